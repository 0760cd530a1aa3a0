"""The HQ's recorded decisions in drills (``--with-hq-decisions``), without services.

- the timeline's response entries map to HQ decisions, and what stays in force is withdrawn at
  the end; each one reads back through intake as the same decision;
- the engine replays them beside the warnings (the drill's expectation, ``plan_levels``);
- the figures keep the automatic comparison and add the effective one, from synthetic rows;
  the report shows both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.hq import parse_decision
from drills.clock import Timebase
from drills.compare import PlanState, plan_levels
from drills.mapping import HQ_NAME, HqStep, Step, map_timeline
from drills.report import render_markdown, write_report
from drills.results import RunFacts, build_result
from drills.timeline import Timeline, load_timeline
from plans import engine
from plans.hq import HqDecision, HqKind
from plans.ledger import AlertLedger
from plans.model import CITYWIDE, Hazard, Plan, ResponseLevel
from store.drills import DrillRows
from store.models import AuditRecord, ResponseRecord
from tests.drills.conftest import event

SERVICE = datetime(2030, 1, 1, tzinfo=UTC)


def test_in_fa_response_entries_become_hq_decisions(plan: Plan) -> None:
    script = map_timeline(load_timeline("in-fa"), plan, run_id="r1")
    assert [(d.kind, d.level, d.areas, d.hazards) for d in script.hq_steps] == [
        (HqKind.START, "IV", (CITYWIDE,), (Hazard.WIND,)),
        (HqKind.RAISE, "I", ("jinshan",), (Hazard.WIND,)),
        (HqKind.LOWER, "III", (CITYWIDE,), ()),  # a lower names no hazard: it only lowers
    ]
    assert [d.decision_id for d in script.hq_steps] == [
        "drill-r1-2021-in-fa-h1",
        "drill-r1-2021-in-fa-h10",
        "drill-r1-2021-in-fa-h15",
    ]
    assert all(d.reason.startswith("[DRILL 2021-in-fa] HQ ") for d in script.hq_steps)
    # Nothing records the end: every declaration in force is withdrawn at the closing time.
    assert [(w.kind, w.references) for w in script.hq_closing] == [
        (HqKind.WITHDRAW, (d.decision_id,)) for d in script.hq_steps
    ]
    for step in (*script.hq_steps, *script.hq_closing):
        document = json.dumps(step.document(step.at)).encode()
        read = parse_decision(document, plan, decided_by="someone else", now=step.at)
        assert read == step.decision(step.at)
        assert read.decided_by == HQ_NAME


def test_an_entry_naming_no_area_of_the_plan_is_not_replayed(
    make_timeline: Callable[..., Timeline], plan: Plan
) -> None:
    timeline = make_timeline(
        event("2021-07-23T07:00+08:00", "response", action="start", level="IV",
              areas=["coastal waters"]),
        event("2021-07-23T08:00+08:00", "response", action="end", areas=["Pudong"]),
    )  # fmt: skip
    script = map_timeline(timeline, plan)
    assert [(d.kind, d.level, d.areas) for d in script.hq_steps] == [
        (HqKind.END, None, ("pudong",))
    ]
    assert len(script.hq_closing) == 1  # an end stays in force too, until withdrawn


def test_the_engine_replays_the_decisions_beside_the_warnings(plan: Plan) -> None:
    script = map_timeline(load_timeline("in-fa"), plan)
    lowered = next(d for d in script.hq_steps if d.kind is HqKind.LOWER)

    def citywide_after(replayed: Sequence[tuple[Step | HqStep, PlanState]]) -> str:
        return [state for step, state in replayed if step.at == lowered.at][-1].levels[CITYWIDE]

    automatic = plan_levels(script, plan)
    with_hq = plan_levels(script, plan, with_hq=True)
    assert citywide_after(automatic) == "II"  # the tide orange alone keeps the city at II
    assert citywide_after(with_hq) == "III"  # the HQ lowered it to III
    assert len(with_hq) == len(automatic) + len(script.hq_steps) + len(script.hq_closing)
    assert with_hq[-1][1].levels == {}, "withdrawn, then lifted: the response ends"
    assert isinstance(with_hq[-len(script.closing) - 1][0], HqStep), "withdrawals go first"


def test_an_hq_decision_is_replayed_with_the_hq_ledger(plan: Plan) -> None:
    decision = HqDecision(
        id="d", decided_by="hq", sent=SERVICE, kind=HqKind.START, level=ResponseLevel.IV,
        areas=(CITYWIDE,), hazards=(Hazard.WIND,), reason="ahead of the typhoon",
    )  # fmt: skip
    with pytest.raises(ValueError, match="HQ ledger"):
        engine.replay(AlertLedger(), plan, decision, SERVICE)


# -- the figures ---------------------------------------------------------------------------
@pytest.fixture
def storm(make_timeline: Callable[..., Timeline]) -> Timeline:
    return make_timeline(
        event("2021-07-23T07:00+08:00", hazard="tide", action="issue", level="orange",
              areas=["citywide"]),
        event("2021-07-23T07:00+08:00", "response", hazard="typhoon", action="start",
              level="II", areas=["citywide"]),
        event("2021-07-23T12:00+08:00", "response", hazard="typhoon", action="downgrade",
              level="III", areas=["citywide"]),
    )  # fmt: skip


def audit(key: str, minutes: float, action: str, **detail: object) -> AuditRecord:
    return AuditRecord(
        key=key, response_id="resp-1", action=action, at=SERVICE + timedelta(minutes=minutes),
        detail=detail,
    )  # fmt: skip


def drill_rows() -> DrillRows:
    """A response that took the HQ's lower at 12:00: effective III, automatic II."""
    response = ResponseRecord(
        id="resp-1", region="r", drill=True, plan_id="shanghai", plan_version="2025.1",
        plan_hash="h", levels={}, status="closed", started_at=SERVICE, updated_at=SERVICE,
    )  # fmt: skip
    levels = [
        audit("l1", 0, "levels_changed", levels={CITYWIDE: "II"}),
        audit("l2", 300, "levels_changed", levels={CITYWIDE: "III"},
              automatic={CITYWIDE: "II"}, declarations=["drill-r1-test-storm-h2"]),
        audit("l3", 360, "levels_changed", levels={CITYWIDE: "II"}),
        audit("l4", 361, "levels_changed", levels={}),
    ]  # fmt: skip
    decided = [
        audit("h1", 0, "hq_decision", decision_id="drill-r1-test-storm-h1", outcome="apply",
              outcome_reason="start declared"),
        audit("h2", 300, "hq_decision", decision_id="drill-r1-test-storm-h2", outcome="apply",
              outcome_reason="lower declared"),
    ]  # fmt: skip
    return DrillRows(response, levels, [], [], [], [], decided)


def facts(script_storm: Timeline, plan: Plan, *, with_hq: bool) -> RunFacts:
    script = map_timeline(script_storm, plan, run_id="r1")
    timebase = Timebase(script_storm.start, SERVICE, 1.0)

    def when(step: Step | HqStep) -> datetime:  # the closing messages an hour after the end
        return timebase.service(step.at + timedelta(hours=0 if step.event else 1))

    sent = tuple((s, when(s)) for s in (*script.steps, *script.closing))
    hq_sent = tuple((d, when(d)) for d in (*script.hq_steps, *script.hq_closing))
    return RunFacts(
        script, plan, timebase, "fast", 1, 3.0, SERVICE + timedelta(hours=8), sent,
        hq_sent=hq_sent if with_hq else (), with_hq_decisions=with_hq,
    )  # fmt: skip


def test_the_automatic_comparison_stays_and_the_effective_one_is_added(
    storm: Timeline, plan: Plan, tmp_path: Path
) -> None:
    result = build_result(facts(storm, plan, with_hq=True), [drill_rows()])
    # The automatic rules: II all along until the end; the HQ's III at 12:00 is missed.
    assert [(c.at.hour, c.level) for c in result.levels if c.area == CITYWIDE] == [
        (7, "II"),
        (13, "none"),
    ]
    assert [c.verdict for c in result.comparison] == ["agreement", "missing"]
    hq = result.with_hq
    assert hq is not None
    assert [(c.at.hour, c.level) for c in hq.levels if c.area == CITYWIDE] == [
        (7, "II"),
        (12, "III"),
        (13, "II"),
        (13, "none"),
    ]
    assert [c.verdict for c in hq.comparison] == ["agreement", "agreement"]
    assert [(d.kind, d.outcome, d.source[:9]) for d in hq.decisions] == [
        ("start", "apply", "events[1]"),
        ("lower", "apply", "events[2]"),
        ("withdraw", "not recorded", "closing"),
        ("withdraw", "not recorded", "closing"),
    ]
    data = json.loads(result.dumps())["with_hq_decisions"]
    assert (data["decisions_replayed"], data["closing_withdrawals"]) == (2, 2)
    assert data["historical_comparison"]["counts"]["agreement"] == 2
    assert data["decisions"][1]["level"] == "III"
    markdown = render_markdown(result)
    assert "## With the headquarters' decisions" in markdown
    assert "| 2021-07-23 12:00 | lower | III | citywide | apply | lower declared |" in markdown
    assert "replayed as lower III (citywide)" in markdown
    html = write_report(result, tmp_path).html.read_text(encoding="utf-8")
    assert "<h2>With the headquarters' decisions</h2>" in html


def test_without_the_decisions_nothing_changes(storm: Timeline, plan: Plan) -> None:
    result = build_result(facts(storm, plan, with_hq=False), [drill_rows()])
    assert result.with_hq is None and json.loads(result.dumps())["with_hq_decisions"] is None
    assert "With the headquarters" not in render_markdown(result)
    assert "historical HQ level (compared, not replayed)" in render_markdown(result)
