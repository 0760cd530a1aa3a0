"""From timeline entries to exercise alerts, skipped entries and historical HQ levels."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from alerts.intake import parse_alert
from drills.mapping import map_area, map_timeline
from drills.timeline import Timeline, load_timeline
from plans.model import CITYWIDE, Hazard, Plan
from plans.warning import Kind, Status
from tests.drills.conftest import event

CENTRAL = ("huangpu", "xuhui", "changning", "jingan", "putuo", "hongkou", "yangpu")


def test_typhoon_and_gale_become_wind_and_every_alert_passes_intake_as_an_exercise(
    make_timeline: Callable[..., Timeline], plan: Plan
) -> None:
    timeline = make_timeline(
        event(
            "2021-07-23T07:00+08:00",
            hazard="typhoon",
            action="issue",
            level="blue",
            areas=["citywide"],
        ),
        event(
            "2021-07-23T08:00+08:00",
            hazard="gale",
            action="issue",
            level="yellow",
            areas=["citywide"],
        ),
        event(
            "2021-07-23T09:00+08:00",
            hazard="tide",
            action="issue",
            level="blue",
            areas=["Huangpu River"],
        ),
    )
    script = map_timeline(timeline, plan, run_id="r1")
    assert [(s.hazard, s.level, s.areas) for s in script.steps] == [
        (Hazard.WIND, "blue", (CITYWIDE,)),
        (Hazard.WIND, "yellow", (CITYWIDE,)),
        (Hazard.TIDE, "blue", (CITYWIDE,)),
    ]
    # typhoon and gale are separate warnings (chains) even though both are wind
    assert [s.kind for s in script.steps] == ["alert", "alert", "alert"]
    for step in script.steps:
        alert = parse_alert(json.dumps(step.document(step.at)).encode())
        assert alert.status is Status.EXERCISE
        assert alert.id == step.alert_id and alert.id.startswith("drill-r1-test-storm-e")


def test_hazards_are_read_with_the_plans_terms(
    make_timeline: Callable[..., Timeline], plan: Plan
) -> None:
    """Drills name hazards through the plan's catalogue, as intake does: no table of their own."""
    wind = plan.hazard_terms[0]
    assert wind.hazard is Hazard.WIND
    terms = tuple(t for t in wind.terms if t != "gale")
    no_gale = dataclasses.replace(
        plan,
        hazard_terms=(dataclasses.replace(wind, terms=terms), *plan.hazard_terms[1:]),
    )
    timeline = make_timeline(
        event(
            "2021-07-23T08:00+08:00",
            hazard="gale",
            action="issue",
            level="yellow",
            areas=["citywide"],
        )
    )
    assert [s.hazard for s in map_timeline(timeline, plan).steps] == [Hazard.WIND]
    script = map_timeline(timeline, no_gale)
    assert script.steps == ()
    assert script.skipped[0].reason.startswith("gale warnings are kept for the record")


def test_upgrades_update_their_chain_and_a_citywide_upgrade_absorbs_district_signals(
    make_timeline: Callable[..., Timeline], plan: Plan
) -> None:
    timeline = make_timeline(
        event(
            "2024-09-14T17:00+08:00",
            hazard="typhoon",
            action="issue",
            level="blue",
            areas=["citywide"],
        ),
        event(
            "2024-09-15T08:00+08:00",
            hazard="typhoon",
            action="upgrade",
            level="yellow",
            areas=["citywide"],
        ),
        event(
            "2024-09-15T14:00+08:00",
            hazard="typhoon",
            action="upgrade",
            level="orange",
            areas=["Pudong", "Fengxian"],
        ),
        event(
            "2024-09-15T17:00+08:00",
            hazard="typhoon",
            action="upgrade",
            level="orange",
            areas=["citywide"],
        ),
        event(
            "2024-09-16T12:00+08:00",
            hazard="typhoon",
            action="cancel",
            level="orange",
            areas=["citywide"],
        ),
    )
    steps = map_timeline(timeline, plan, run_id="r").steps
    root = steps[0].alert_id
    assert [s.kind for s in steps] == ["alert", "update", "alert", "update", "cancel"]
    assert steps[1].references == (root,)
    assert steps[2].areas == ("pudong", "fengxian") and "new warning" in steps[2].note
    assert steps[3].references == (root, steps[2].alert_id)
    assert "replaces" in steps[3].note
    assert steps[4].references == (root,)
    assert map_timeline(timeline, plan, run_id="r").closing == ()


def test_a_district_downgrade_under_a_citywide_signal_is_skipped_with_a_note(
    make_timeline: Callable[..., Timeline], plan: Plan
) -> None:
    timeline = make_timeline(
        event(
            "2021-07-26T11:00+08:00",
            hazard="typhoon",
            action="issue",
            level="yellow",
            areas=["citywide"],
        ),
        event(
            "2021-07-26T16:40+08:00",
            hazard="typhoon",
            action="downgrade",
            level="blue",
            areas=["Chongming"],
        ),
        event(
            "2021-07-26T17:00+08:00",
            hazard="rainstorm",
            action="downgrade",
            level="blue",
            areas=["citywide"],
        ),
        event(
            "2021-07-26T18:00+08:00",
            hazard="rainstorm",
            action="cancel",
            level="blue",
            areas=["citywide"],
        ),
    )
    script = map_timeline(timeline, plan)
    assert len(script.steps) == 1
    reasons = [s.reason for s in script.skipped]
    assert "still covers it and a district is never below the city" in reasons[0]
    assert "no rainstorm warning is in force there" in reasons[1]
    assert "not in force" in reasons[2]
    assert [(c.kind, c.hazard, c.areas) for c in script.closing] == [
        ("cancel", Hazard.WIND, (CITYWIDE,))
    ]


def test_hazards_tidegate_does_not_act_on_and_sea_areas_are_skipped_never_a_crash(
    make_timeline: Callable[..., Timeline], plan: Plan
) -> None:
    timeline = make_timeline(
        event(
            "2024-09-15T07:00+08:00",
            hazard="wave",
            action="issue",
            level="red",
            areas=["Shanghai coastal waters"],
        ),
        event(
            "2024-09-15T07:10+08:00",
            hazard="lightning",
            action="issue",
            level="yellow",
            areas=["citywide"],
        ),
        event(
            "2024-09-15T07:20+08:00",
            hazard="gale",
            action="issue",
            level="blue",
            areas=["Yangshan offshore waters"],
        ),
        event(
            "2024-09-15T07:30+08:00",
            hazard="rainstorm",
            action="issue",
            level="blue",
            areas=["Pudong", "Atlantis"],
        ),
    )
    script = map_timeline(timeline, plan)
    assert [(s.hazard, s.areas) for s in script.steps] == [(Hazard.RAINSTORM, ("pudong",))]
    reasons = [f"{s.event.index}: {s.reason}" for s in script.skipped]
    assert reasons[0].startswith("0: wave warnings are kept for the record")
    assert reasons[1].startswith("1: lightning warnings")
    assert "a sea area" in reasons[2] and "none of its areas" in reasons[3]
    assert "'Atlantis': not a Shanghai district" in reasons[4]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Huangpu River", (CITYWIDE,)),
        ("黄浦江", (CITYWIDE,)),
        ("Suzhou Creek", (CITYWIDE,)),
        ("Huangpu Park", (CITYWIDE,)),
        ("Huangpu", ("huangpu",)),
        ("浦东新区", ("pudong",)),
        ("central urban districts", CENTRAL),
        ("中心城区", CENTRAL),
        ("coastal", ("pudong", "jinshan", "fengxian", "chongming")),
        ("Shanghai coastal waters", ()),
        ("Putuo, Zhoushan (Zhejiang)", ()),
    ],
)
def test_area_rule(name: str, expected: tuple[str, ...], plan: Plan) -> None:
    assert map_area(name, plan)[0] == expected


def test_response_entries_become_historical_levels(
    make_timeline: Callable[..., Timeline], plan: Plan
) -> None:
    timeline = make_timeline(
        event(
            "2021-07-23T07:00+08:00",
            "response",
            hazard="typhoon",
            action="start",
            level="IV",
            areas=["citywide"],
        ),
        event(
            "2021-07-25T16:00+08:00",
            "response",
            hazard="typhoon",
            action="upgrade",
            level="I",
            areas=["Jinshan"],
        ),
        event(
            "2021-07-27T12:00+08:00", "response", hazard="typhoon", action="end", areas=["citywide"]
        ),
    )
    script = map_timeline(timeline, plan)
    assert script.steps == ()
    assert [(h.area, h.level) for h in script.historical] == [
        (CITYWIDE, "IV"),
        ("jinshan", "I"),
        (CITYWIDE, None),
    ]


def test_every_bundled_storm_maps_and_its_alerts_pass_intake(plan: Plan) -> None:
    from drills.timeline import bundled_storms

    for slug in bundled_storms():
        script = map_timeline(load_timeline(slug), plan, run_id="x")
        for step in (*script.steps, *script.closing):
            alert = parse_alert(json.dumps(step.document(step.at)).encode())
            assert alert.kind is Kind(step.kind)
            assert alert.areas == step.areas


def test_two_runs_of_one_storm_never_share_alert_ids(plan: Plan) -> None:
    timeline = load_timeline("in-fa")
    first = {s.alert_id for s in map_timeline(timeline, plan, run_id="a").steps}
    second = {s.alert_id for s in map_timeline(timeline, plan, run_id="b").steps}
    assert first and not first & second
