"""A drill replaying the HQ's recorded decisions (``--with-hq-decisions``) on the real services.

In-Fa 2021 has three timed HQ decisions: the citywide start at IV, Jinshan's own raise to I
and the citywide lower to III on 26 Jul, when the tide orange alone keeps the city at II. With
the decisions the response follows the HQ (the engine's levels after every message); the
automatic comparison is still the rules' own. The CLI prints both.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from access.matrix import Role
from config.settings import Settings
from drills.compare import plan_levels
from drills.mapping import map_timeline
from drills.results import NONE
from drills.runner import result_of, run_fast
from drills.timeline import Timeline, load_timeline
from plans.loader import load_plan
from plans.model import CITYWIDE
from tests.drills.conftest import event
from tests.drills.test_drill_e2e import COOLDOWN, fast_settings, quick, sqlite_url
from tests.e2e.harness import run_tidegate, token_of

pytestmark = pytest.mark.e2e
__all__ = ["fast_settings", "sqlite_url"]  # fixtures shared with the other drill tests


def shown_after_each_instant(
    levels_at: Callable[[str, datetime], str],
    expected: list[tuple[datetime, dict[str, str]]],
    areas: set[str],
    closing: datetime,
) -> list[tuple[datetime, dict[str, str], dict[str, str]]]:
    """(instant, what the drill showed before the next instant, what the engine gives)."""
    by_instant: dict[datetime, dict[str, str]] = {}
    for at, levels in expected:
        by_instant[at] = levels  # the last message of an instant wins
    instants = sorted(by_instant)
    out = []
    for index, instant in enumerate(instants):
        settled = instants[index + 1] if index + 1 < len(instants) else closing
        every = areas | set(by_instant[instant])
        shown = {a: levels_at(a, settled) for a in every}
        want = {a: by_instant[instant].get(a, NONE) for a in every}
        out.append((instant, shown, want))
    return out


async def test_in_fa_with_the_hq_decisions_follows_the_hq(
    fast_settings: Settings, time_skipping_env: WorkflowEnvironment, small_plan_path: Path
) -> None:
    timeline = load_timeline("in-fa")
    options = dataclasses.replace(quick(3, small_plan_path), with_hq_decisions=True)
    run = await run_fast(timeline, fast_settings, options, env=time_skipping_env)
    result = await result_of(run, fast_settings)
    assert result.anomalies == ()
    hq = result.with_hq
    assert hq is not None
    assert [(d.kind, d.level, d.outcome) for d in hq.decisions] == [
        ("start", "IV", "apply"),
        ("raise", "I", "apply"),
        ("lower", "III", "apply"),
        ("withdraw", None, "apply"),
        ("withdraw", None, "apply"),
        ("withdraw", None, "apply"),
    ]

    plan = load_plan(small_plan_path)
    script = map_timeline(timeline, plan)
    closing = timeline.end + timedelta(minutes=COOLDOWN)
    areas = {c.area for c in hq.levels} | {c.area for c in result.levels}
    last = -len(script.closing) - len(script.hq_closing)
    effective = [(step.at, state.levels) for step, state in plan_levels(script, plan, with_hq=True)]
    for instant, shown, want in shown_after_each_instant(
        hq.level_at, effective[:last], areas, closing
    ):
        assert shown == want, f"with the HQ's decisions, after {instant}"
    automatic = [(step.at, state.levels) for step, state in plan_levels(script, plan)]
    for instant, shown, want in shown_after_each_instant(
        result.level_at, automatic[: -len(script.closing)], areas, closing
    ):
        assert shown == want, f"the automatic rules, after {instant}"

    lowered = next(d for d in hq.decisions if d.kind == "lower").at
    assert result.level_at(CITYWIDE, lowered + timedelta(minutes=1)) == "II"
    assert hq.level_at(CITYWIDE, lowered + timedelta(minutes=1)) == "III"
    verdict = {(c.at, c.area): c.verdict for c in result.comparison}
    with_hq = {(c.at, c.area): c.verdict for c in hq.comparison}
    assert verdict[lowered, CITYWIDE] == "missing"  # the comparison stays the rules'
    assert with_hq[lowered, CITYWIDE] == "agreement"
    assert with_hq.values() and set(with_hq.values()) <= {"agreement", "early"}
    final = {a: hq.level_at(a, result.drill_end) for a in areas}
    assert set(final.values()) == {NONE}, "withdrawn, then lifted: the response ended"


async def test_the_cli_replays_and_reports_the_decisions(
    fast_settings: Settings,
    small_plan_path: Path,
    make_timeline: Callable[..., Timeline],
    tmp_path: Path,
) -> None:
    """A start ahead of the first signal, then a lower, through ``tidegate drill run``."""
    make_timeline(
        event("2024-09-18T14:00+08:00", "response", hazard="typhoon", action="start",
              level="III", areas=["citywide"], note="HQ started ahead of the signal"),
        event("2024-09-18T16:00+08:00", hazard="typhoon", action="issue", level="blue",
              areas=["citywide"]),
        event("2024-09-18T20:00+08:00", "response", hazard="typhoon", action="downgrade",
              level="IV", areas=["citywide"]),
        slug="ahead",
    )  # fmt: skip
    trainer = await token_of(fast_settings, Role.TRAINER)
    out = await run_tidegate(
        fast_settings, "drill", "run", str(tmp_path / "ahead.yaml"), "--fast", "--json",
        "--with-hq-decisions", "--plan", str(small_plan_path), "--cooldown-hours", "1",
        "--tail-hours", "1", "--report", str(tmp_path / "report"), token=trainer,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout)
    hq = data["with_hq_decisions"]
    assert [(d["kind"], d["level"], d["outcome"]) for d in hq["decisions"]] == [
        ("start", "III", "apply"),
        ("lower", "IV", "apply"),
        ("withdraw", None, "apply"),
        ("withdraw", None, "apply"),
    ]
    assert [c["level"] for c in hq["levels"] if c["area"] == CITYWIDE] == ["III", "IV", "none"]
    # The rules alone: nothing before the 16:00 signal, then IV.
    assert [c["level"] for c in data["levels"] if c["area"] == CITYWIDE] == ["IV", "none"]
    assert hq["historical_comparison"]["counts"]["agreement"] == 2
    assert data["historical_comparison"]["counts"]["missing"] >= 1
    assert data["tasks_dispatched"] > 0 and data["anomalies"] == []
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## With the headquarters' decisions" in markdown
