"""respond(), diff() and apply_diff() on the bundled plan: the rules in plans/rules.py."""

from __future__ import annotations

import pytest

from plans.errors import UnknownAreaError
from plans.model import (
    CITYWIDE,
    ActiveWarning,
    Hazard,
    Level,
    Plan,
    ResponseLevel,
    StandDown,
)
from plans.rules import apply_diff, assess, diff, respond

W = ActiveWarning
CITY = (CITYWIDE,)


def _ids(plan: Plan, *warnings: ActiveWarning) -> set[str]:
    return {t.id for t in respond(warnings, plan).tasks}


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Level.BLUE, ResponseLevel.IV),
        (Level.YELLOW, ResponseLevel.III),
        (Level.ORANGE, ResponseLevel.II),
        (Level.RED, ResponseLevel.I),
    ],
)
@pytest.mark.parametrize("hazard", list(Hazard))
def test_colour_maps_to_response_level(
    plan: Plan, hazard: Hazard, level: Level, expected: ResponseLevel
) -> None:
    response = respond([W(hazard, level, CITY)], plan)
    assert response.levels[CITYWIDE] is expected
    assert set(response.levels) == {CITYWIDE} | {d.id for d in plan.districts}
    assert set(response.levels.values()) == {expected}


def test_no_warnings_no_response(plan: Plan) -> None:
    response = respond([], plan)
    assert response.levels == {} and response.tasks == () and response.notices == ()
    assert response.plan == plan.ref


def test_blue_rainstorm_citywide_dispatches_drainage_and_sanitation(plan: Plan) -> None:
    response = respond([W(Hazard.RAINSTORM, Level.BLUE, CITY)], plan)
    agencies = {t.agency for t in response.tasks}
    assert {"drainage", "sanitation"} <= agencies
    ids = {t.id for t in response.tasks}
    assert "drainage.prelower@pudong" in ids
    assert "sanitation.clear-inlets@huangpu" in ids
    assert "drainage.station-storm-mode@pudong/ps-pudong-1" in ids
    assert "media.public-release@citywide" in ids
    assert all(t.hazard is Hazard.RAINSTORM for t in response.tasks)
    assert all(t.response_level is ResponseLevel.IV for t in response.tasks)


def test_highest_warning_wins(plan: Plan) -> None:
    response = respond(
        [W(Hazard.RAINSTORM, Level.BLUE, CITY), W(Hazard.WIND, Level.ORANGE, CITY)], plan
    )
    assert response.levels[CITYWIDE] is ResponseLevel.II


def test_duplicate_and_reordered_warnings_change_nothing(plan: Plan) -> None:
    a = W(Hazard.RAINSTORM, Level.YELLOW, CITY)
    b = W(Hazard.WIND, Level.BLUE, ("pudong",))
    weaker = W(Hazard.RAINSTORM, Level.BLUE, ("pudong",))
    assert respond([a, b], plan) == respond([b, weaker, a, a], plan)


def test_district_can_sit_above_the_city(plan: Plan) -> None:
    response = respond(
        [W(Hazard.WIND, Level.YELLOW, CITY), W(Hazard.WIND, Level.RED, ("jinshan", "fengxian"))],
        plan,
    )
    assert response.levels[CITYWIDE] is ResponseLevel.III
    assert response.levels["jinshan"] is ResponseLevel.I
    assert response.levels["fengxian"] is ResponseLevel.I
    assert response.levels["pudong"] is ResponseLevel.III
    ids = {t.id for t in response.tasks}
    assert "housing.move-residents@jinshan" in ids
    assert "housing.move-residents@pudong" not in ids
    # Notices go to the city and to the districts above it.
    assert {n.area for n in response.notices} == {CITYWIDE, "jinshan", "fengxian"}


def test_district_never_below_the_city(plan: Plan) -> None:
    response = respond(
        [W(Hazard.WIND, Level.ORANGE, CITY), W(Hazard.RAINSTORM, Level.BLUE, ("pudong",))], plan
    )
    assert response.levels["pudong"] is ResponseLevel.II
    assessment = assess([W(Hazard.WIND, Level.ORANGE, CITY)], plan)
    assert not assessment["pudong"].city_floor


def test_district_only_warning_gives_no_citywide_tasks(plan: Plan) -> None:
    response = respond([W(Hazard.WIND, Level.RED, ("pudong",))], plan)
    assert response.levels == {"pudong": ResponseLevel.I}
    assert {t.area for t in response.tasks} == {"pudong"}
    assert {n.id for n in response.notices} == {
        "media.public-release@pudong/I",
        "transport.passenger-notice@pudong/I",
    }


def test_three_coincide_raises_by_one(plan: Plan) -> None:
    warnings = [
        W(Hazard.WIND, Level.YELLOW, CITY),
        W(Hazard.RAINSTORM, Level.ORANGE, CITY),
        W(Hazard.TIDE, Level.YELLOW, CITY),
    ]
    response = respond(warnings, plan)
    assert set(response.levels.values()) == {ResponseLevel.I}
    assert assess(warnings, plan)[CITYWIDE].compound == ("three-coincide",)
    assert assess(warnings, plan)[CITYWIDE].base is ResponseLevel.II
    # Two of the three are not enough, nor are all three below the thresholds.
    assert respond(warnings[:2], plan).levels[CITYWIDE] is ResponseLevel.II
    blue = [W(w.hazard, Level.BLUE, CITY) for w in warnings]
    assert respond(blue, plan).levels[CITYWIDE] is ResponseLevel.IV
    # Level I stays level I.
    red = [W(w.hazard, Level.RED, CITY) for w in warnings]
    assert set(respond(red, plan).levels.values()) == {ResponseLevel.I}


def test_coastal_compound_rule_applies_to_coastal_districts_only(plan: Plan) -> None:
    warnings = [W(Hazard.WIND, Level.ORANGE, CITY), W(Hazard.TIDE, Level.YELLOW, CITY)]
    levels = respond(warnings, plan).levels
    assert levels[CITYWIDE] is ResponseLevel.II
    for district in ("pudong", "jinshan", "fengxian", "chongming"):
        assert levels[district] is ResponseLevel.I
    assert levels["huangpu"] is ResponseLevel.II
    assert assess(warnings, plan)["pudong"].compound == ("coastal-wind-tide",)


def test_class_suspension_needs_a_red_typhoon_or_rainstorm(plan: Plan) -> None:
    assert "education.class-suspension@xuhui" in _ids(plan, W(Hazard.RAINSTORM, Level.RED, CITY))
    # Level I reached through a red tide does not suspend classes, even with a blue typhoon.
    tide_red = _ids(plan, W(Hazard.TIDE, Level.RED, CITY), W(Hazard.WIND, Level.BLUE, CITY))
    assert "education.class-suspension@xuhui" not in tide_red


def test_hazard_specific_actions(plan: Plan) -> None:
    wind = _ids(plan, W(Hazard.WIND, Level.BLUE, CITY))
    rain = _ids(plan, W(Hazard.RAINSTORM, Level.BLUE, CITY))
    assert "greening.inspect-trees@putuo" in wind
    assert "greening.inspect-trees@putuo" not in rain
    tide = _ids(plan, W(Hazard.TIDE, Level.BLUE, CITY))
    assert "water.floodwall-patrol@huangpu" in tide
    assert "water.floodwall-patrol@chongming" not in tide  # not a riverside district
    assert "transport.ferry-notice@citywide" in tide


def test_task_fields_and_ids(plan: Plan) -> None:
    response = respond([W(Hazard.RAINSTORM, Level.YELLOW, CITY)], plan)
    ids = [t.id for t in response.tasks]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    task = next(t for t in response.tasks if t.id == "drainage.team-deploy@pudong/wlp-pudong-1")
    assert task.action_id == "drainage.team-deploy"
    assert (task.agency, task.area, task.asset) == ("drainage", "pudong", "wlp-pudong-1")
    assert task.response_level is ResponseLevel.III
    assert task.deadline_minutes == 60 and task.ack_timeout_minutes == 15
    assert [(s.after_minutes, s.kind, s.to) for s in task.escalation] == [
        (15, "reminder", "agency"),
        (30, "supervision", "district_hq"),
        (60, "warning", "city_hq"),
    ]
    city_task = next(t for t in response.tasks if t.area == CITYWIDE)
    assert all(step.to != "district_hq" for step in city_task.escalation)


def test_unknown_area_is_rejected(plan: Plan) -> None:
    with pytest.raises(UnknownAreaError, match="atlantis"):
        respond([W(Hazard.WIND, Level.BLUE, ("atlantis",))], plan)


def test_worst_case_stays_a_few_hundred_tasks(plan: Plan) -> None:
    red = [W(h, Level.RED, CITY) for h in (Hazard.WIND, Hazard.RAINSTORM, Hazard.TIDE)]
    response = respond(red, plan)
    assert 300 <= len(response.tasks) <= 600


def test_upgrade_only_dispatches(plan: Plan) -> None:
    blue = respond([W(Hazard.WIND, Level.BLUE, CITY)], plan)
    orange = respond([W(Hazard.WIND, Level.ORANGE, CITY)], plan)
    change = diff(blue, orange)
    assert change.dispatch and not change.stand_down and not change.keep and not change.update
    assert {c.area for c in change.level_changes} == set(orange.levels)
    # The old notice retires, the new one is published.
    assert [n.id for n in change.retired_notices] == [
        "media.public-release@citywide/IV",
        "transport.passenger-notice@citywide/IV",
    ]
    assert {n.response_level for n in change.notices} == {ResponseLevel.II}


def test_downgrade_stands_down_or_keeps_as_the_plan_says(plan: Plan) -> None:
    orange = respond([W(Hazard.WIND, Level.ORANGE, CITY)], plan)
    blue = respond([W(Hazard.WIND, Level.BLUE, CITY)], plan)
    change = diff(orange, blue)
    assert not change.dispatch
    assert all(t.on_stand_down is StandDown.STAND_DOWN for t in change.stand_down)
    assert all(t.on_stand_down is StandDown.KEEP for t in change.keep)
    kept = {t.action_id for t in change.keep}
    assert {"housing.move-residents", "greening.remove-hazard-trees"} <= kept
    assert "greening.close-parks" in {t.action_id for t in change.stand_down}


def test_cancellation_ends_everything(plan: Plan) -> None:
    before = respond([W(Hazard.RAINSTORM, Level.ORANGE, CITY)], plan)
    change = diff(before, respond([], plan))
    assert len(change.stand_down) + len(change.keep) == len(before.tasks)
    assert all(c.after is None for c in change.level_changes)
    assert change.retired_notices == before.notices
    assert apply_diff(before, change) == respond([], plan)


def test_hazard_change_updates_without_redispatch(plan: Plan) -> None:
    rain = respond([W(Hazard.RAINSTORM, Level.BLUE, CITY)], plan)
    both = respond([W(Hazard.RAINSTORM, Level.BLUE, CITY), W(Hazard.WIND, Level.BLUE, CITY)], plan)
    change = diff(rain, both)
    assert change.dispatch and not change.stand_down and not change.keep
    # A task takes the first of its action's hazards that is in force: construction lists wind
    # before rainstorm, so its tasks are re-attributed; drainage lists rainstorm first.
    updated = {t.id: t.hazard for t in change.update}
    assert updated["construction.secure-sites@baoshan"] is Hazard.WIND
    assert "drainage.prelower@baoshan" not in updated
    assert all(t.hazard is Hazard.WIND for t in change.update)
    # Dropping the rainstorm re-attributes rainstorm-first tasks to the wind.
    wind_only = respond([W(Hazard.WIND, Level.BLUE, CITY)], plan)
    change = diff(both, wind_only)
    assert "drainage.prelower@baoshan" in {t.id for t in change.update}
    assert apply_diff(both, change) == wind_only


def test_diff_of_identical_responses_is_empty(plan: Plan) -> None:
    response = respond([W(Hazard.TIDE, Level.YELLOW, CITY)], plan)
    assert diff(response, response).is_empty
