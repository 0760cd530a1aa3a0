"""Drill figures and the after-action report, from a synthetic set of database rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drills.clock import Timebase
from drills.mapping import HistoricalLevel, map_timeline
from drills.report import level_rows, render_markdown, write_report
from drills.results import DrillResult, LevelChange, RunFacts, build_result, compare_history
from drills.timeline import Event, EventKind, Timeline
from plans.model import Plan
from store.drills import DrillRows
from store.models import (
    AuditRecord,
    EscalationRecord,
    ResponseRecord,
    TaskEventRecord,
    TaskRecord,
    WarningRecord,
)
from tests.drills.conftest import event

SERVICE = datetime(2030, 1, 1, tzinfo=UTC)
DISTRICTS = ("pudong", "jinshan")


@pytest.fixture
def timeline(make_timeline: Callable[..., Timeline]) -> Timeline:
    return make_timeline(
        event(
            "2021-07-23T07:00+08:00",
            hazard="typhoon",
            action="issue",
            level="blue",
            areas=["citywide"],
        ),
        event(
            "2021-07-23T07:00+08:00",
            "response",
            hazard="typhoon",
            action="start",
            level="IV",
            areas=["citywide"],
        ),
        event(
            "2021-07-23T10:00+08:00",
            hazard="typhoon",
            action="upgrade",
            level="yellow",
            areas=["citywide"],
        ),
        event(
            "2021-07-23T12:00+08:00",
            "response",
            hazard="typhoon",
            action="upgrade",
            level="III",
            areas=["citywide"],
        ),
        event("2021-07-23T13:00+08:00", "landfall", areas=["Pinghu (Zhejiang)"]),
        event(
            "2021-07-23T15:00+08:00",
            "response",
            hazard="typhoon",
            action="upgrade",
            level="I",
            areas=["Jinshan"],
        ),
        event(
            "2021-07-23T16:00+08:00",
            hazard="wave",
            action="issue",
            level="red",
            areas=["coastal waters"],
        ),
    )


def at(minutes: float) -> datetime:
    return SERVICE + timedelta(minutes=minutes)


def rows() -> DrillRows:
    response = ResponseRecord(
        id="resp-1",
        region="r",
        drill=True,
        plan_id="shanghai",
        plan_version="2025.1",
        plan_hash="h",
        levels={},
        status="closed",
        started_at=at(0),
        updated_at=at(0),
    )
    levels = [
        AuditRecord(
            key="k1",
            response_id="resp-1",
            action="levels_changed",
            at=at(0),
            detail={"levels": {"citywide": "IV", **dict.fromkeys(DISTRICTS, "IV")}},
        ),
        AuditRecord(
            key="k2",
            response_id="resp-1",
            action="levels_changed",
            at=at(180),
            detail={"levels": {"citywide": "III", **dict.fromkeys(DISTRICTS, "III")}},
        ),
        AuditRecord(
            key="k3",
            response_id="resp-1",
            action="levels_changed",
            at=at(24 * 60),
            detail={"levels": {}},
        ),
    ]
    tasks = [
        TaskRecord(
            id=f"resp-1/{name}",
            response_id="resp-1",
            plan_task_id=name,
            action_id=name.split("@")[0],
            agency=name.split(".")[0],
            area="citywide",
            asset=None,
            hazard="wind",
            response_level="IV",
            state=state,
            drill=True,
            plan_version="2025.1",
            issued_at=at(0),
            deadline_at=at(60),
            updated_at=at(0),
        )
        for name, state in (
            ("drainage.a@citywide", "completed"),
            ("drainage.b@citywide", "escalated"),
            ("media.c@citywide", "completed"),
        )
    ]
    events = [
        TaskEventRecord(
            key="e1", task_id="resp-1/drainage.a@citywide", kind="acknowledge", detail={}, at=at(5)
        ),
        TaskEventRecord(
            key="e2", task_id="resp-1/drainage.a@citywide", kind="complete", detail={}, at=at(50)
        ),
        TaskEventRecord(
            key="e3", task_id="resp-1/media.c@citywide", kind="acknowledge", detail={}, at=at(3)
        ),
        TaskEventRecord(
            key="e4", task_id="resp-1/media.c@citywide", kind="complete", detail={}, at=at(90)
        ),
        TaskEventRecord(
            key="e5",
            task_id="resp-1/media.c@citywide",
            kind="deadline_missed",
            detail={},
            at=at(60),
        ),
        TaskEventRecord(
            key="e6",
            task_id="resp-1/drainage.b@citywide",
            kind="escalation_reminder",
            detail={},
            at=at(15),
        ),
    ]
    escalations = [
        EscalationRecord(
            key="x1",
            task_id="resp-1/drainage.b@citywide",
            response_id="resp-1",
            kind="reminder",
            to="agency",
            at=at(15),
        )
    ]
    warnings = [
        WarningRecord(
            id="drill-r1-test-storm-e0",
            response_id="resp-1",
            kind="alert",
            hazard="wind",
            level="blue",
            areas=["citywide"],
            status="exercise",
            decision="apply",
            sent=at(0),
            recorded_at=at(0),
            headline="",
        )
    ]
    return DrillRows(response, levels, warnings, tasks, events, escalations)


@pytest.fixture
def result(timeline: Timeline, plan: Plan) -> DrillResult:
    script = map_timeline(timeline, plan, run_id="r1")
    timebase = Timebase(timeline.start, SERVICE, 1.0)
    sent = tuple((step, timebase.service(step.at)) for step in (*script.steps, *script.closing))
    facts = RunFacts(script, plan, timebase, "fast", 7, 12.5, at(26 * 60), sent, ("one anomaly",))
    return build_result(facts, [rows()])


def test_figures_come_from_the_rows_in_storm_time(result: DrillResult) -> None:
    assert result.tasks_dispatched == 3
    assert (
        result.acknowledge.n == 2
        and result.acknowledge.p50 == 4.0
        and result.acknowledge.max == 5.0
    )
    assert result.complete.p90 == 86.0
    assert result.escalations == 1 and result.escalations_by_kind == {"reminder": 1}
    assert result.deadlines_missed == 1
    assert result.open_at_end == 1
    drainage = next(a for a in result.agencies if a.agency == "drainage")
    assert (drainage.dispatched, drainage.completed, drainage.open_at_end) == (2, 1, 1)
    first = result.levels[0]
    assert first.at.isoformat() == "2021-07-23T07:00:00+08:00" and first.level == "IV"
    assert [(c.area, c.level) for c in result.levels if c.at.hour == 10] == [
        ("citywide", "III"),
        ("jinshan", "III"),
        ("pudong", "III"),
    ]
    assert result.warnings_replayed == 2 and result.closing_cancellations == 1
    assert result.warnings[0].decision == "apply" and result.warnings[1].decision == "not recorded"
    assert result.warnings[1].in_force["pudong"] == {"wind": "yellow"}


def test_json_has_the_documented_keys(result: DrillResult) -> None:
    data = json.loads(result.dumps())
    for key in (
        "storm",
        "wall_seconds",
        "warnings_replayed",
        "tasks_dispatched",
        "escalations",
        "levels",
        "historical_comparison",
    ):
        assert key in data
    assert {"at", "area", "level"} == set(data["levels"][0])
    assert {c["level"] for c in data["levels"]} <= {"IV", "III", "II", "I", "none"}
    counts = data["historical_comparison"]["counts"]
    assert counts == {"agreement": 1, "early": 1, "late": 0, "missing": 1}


def test_historical_comparison_verdicts(result: DrillResult) -> None:
    verdicts = [
        (c.at.hour, c.area, c.historical, c.verdict, c.lag_minutes) for c in result.comparison
    ]
    assert verdicts == [
        (7, "citywide", "IV", "agreement", 0.0),
        (12, "citywide", "III", "early", -120.0),
        (15, "jinshan", "I", "missing", None),
    ]
    assert result.comparison[2].tidegate_level == "III"


def test_comparison_late_and_end() -> None:
    base = datetime(2021, 7, 23, 7, tzinfo=UTC)

    def hq(hours: float, level: str | None) -> HistoricalLevel:
        e = Event(
            0, base + timedelta(hours=hours), EventKind.RESPONSE, None, "x", level, ("citywide",)
        )
        return HistoricalLevel(e.at, "citywide", level, e)

    levels = [
        LevelChange(base + timedelta(hours=1), "citywide", "II"),
        LevelChange(base + timedelta(hours=9), "citywide", "none"),
    ]
    found = compare_history([hq(0, "II"), hq(8.75, None)], levels, base + timedelta(hours=20))
    assert [(c.verdict, c.lag_minutes) for c in found] == [("late", 60.0), ("agreement", 15.0)]


def test_report_files(result: DrillResult, tmp_path: Path) -> None:
    files = write_report(result, tmp_path / "report")
    html = files.html.read_text(encoding="utf-8")
    markdown = files.markdown.read_text(encoding="utf-8")
    svg = files.chart.read_text(encoding="utf-8")
    assert "<svg" in html and "</html>" in html and "Test storm" in html
    assert "verdict-missing" in html and "one anomaly" in html
    assert "![Warnings and response levels per area](timeline.svg)" in markdown
    assert "| 2021-07-23 10:00 | citywide | III | 2 districts with it |" in markdown
    assert "wave warnings are kept for the record" in markdown
    assert "landfall" in svg and svg.count("<rect") > 5
    assert json.loads(files.data.read_text(encoding="utf-8"))["storm"] == "test-storm"


def test_markdown_escapes_table_cells(result: DrillResult) -> None:
    text = render_markdown(result)
    for line in text.splitlines():
        if line.startswith("| 2021-07-23 16:00 | warning"):
            assert line.count(" | ") == 5


def test_level_rows_group_districts_with_the_city(result: DrillResult) -> None:
    rows = level_rows(result)
    assert rows[0]["area"] == "citywide" and rows[0]["note"] == "2 districts with it"


def test_a_response_that_falls_behind_the_plan_is_an_anomaly(result: DrillResult) -> None:
    # The synthetic rows record levels for three areas only; the plan gives all seventeen.
    lagging = [a for a in result.anomalies if "had not reached the plan's levels" in a]
    assert lagging and "lower --speed" in lagging[0]
