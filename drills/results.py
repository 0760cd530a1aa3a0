"""The figures of one drill, from what its responses recorded; pure functions over rows.

Every time is converted to **storm time** (what the historical clock said), so a drill run with
``--fast`` (virtual time) or ``--speed N`` (N storm minutes per real minute) reads like the storm
itself; latencies are in storm minutes, i.e. the plan's own minutes.

The historical comparison (``docs/drills.md``): for each headquarters level change in the
timeline (area, time, level), tidegate's level in that area is looked up:

* **agreement**: tidegate reached the same level within ``TOLERANCE_MINUTES`` of the HQ;
* **early**: tidegate was already at that level more than the tolerance before;
* **late**: tidegate reached it more than the tolerance after (before the HQ's next change);
* **missing**: tidegate was never at that level between the HQ's change and its next one.

That comparison is always the automatic rules' (the levels the signals alone give). A drill
run ``--with-hq-decisions`` also replays the HQ's recorded decisions: its response acts on the
effective levels (``plans.hq``), which :class:`WithDecisions` puts beside the HQ the same way,
with what the response made of each decision. The response then records the automatic levels
only when the effective ones move, so the automatic levels of such a drill are the engine's
(``plans.engine``) for the messages sent, at the times they were sent.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.intake import parse_alert
from drills.clock import Timebase
from drills.mapping import DrillScript, HistoricalLevel, HqStep, Step
from plans import engine
from plans.hq import HqDecision, HqLedger
from plans.ledger import AlertLedger
from plans.lifecycle import TaskState
from plans.model import Plan
from plans.rules import area_order, assess
from plans.warning import Alert
from store.drills import DrillRows, utc

TOLERANCE_MINUTES = 30
"""How far apart tidegate's and the HQ's level changes may be and still agree."""
SAME_INSTANT = timedelta(minutes=1)
"""Timelines are minute-precise and a drill sends a storm instant's warnings within its minute:
tidegate's level "at" an HQ change is its level one minute later."""
NONE = "none"
"""How levels are written when an area has no response."""


@dataclass(frozen=True)
class LevelChange:
    """An area's response level from ``at`` on (``none``: no response)."""

    at: datetime
    area: str
    level: str


@dataclass(frozen=True)
class WarningSent:
    """A warning the drill sent, with what intake decided and what was in force after it."""

    at: datetime
    """Storm time of the timeline entry (or the closing time)."""
    alert_id: str
    kind: str
    hazard: str
    level: str
    areas: tuple[str, ...]
    decision: str
    """The response's ledger decision (``apply``, ``duplicate``...), as recorded."""
    source: str
    """The timeline entry it comes from, or ``closing``."""
    note: str
    in_force: dict[str, dict[str, str]]
    """After it: area -> hazard -> colour of every warning in force."""
    expected_levels: dict[str, str] = field(default_factory=dict)
    """After it: area -> the response level the plan gives for everything sent so far."""


@dataclass(frozen=True)
class Percentiles:
    """Latency percentiles in storm minutes (``None`` without samples)."""

    n: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True)
class AgencyFigures:
    """One agency's tasks in the drill."""

    agency: str
    dispatched: int
    acknowledged: int
    completed: int
    declined: int
    stood_down: int
    open_at_end: int
    escalations: int
    deadlines_missed: int
    acknowledge: Percentiles
    complete: Percentiles


@dataclass(frozen=True)
class Comparison:
    """tidegate beside one headquarters level change."""

    at: datetime
    area: str
    historical: str
    verdict: str
    """``agreement``, ``early``, ``late`` or ``missing``."""
    tidegate_at: datetime | None
    """When tidegate reached that level (``None`` if it did not)."""
    lag_minutes: float | None
    """``tidegate_at - at`` in minutes: negative is early."""
    tidegate_level: str
    """tidegate's level in the area at ``at``."""
    source: str


@dataclass(frozen=True)
class DecisionSent:
    """An HQ decision the drill replayed, and what the response's ledger made of it."""

    at: datetime
    """Storm time of the timeline entry (or the closing time)."""
    decision_id: str
    kind: str
    level: str | None
    areas: tuple[str, ...]
    references: tuple[str, ...]
    outcome: str
    """``apply``, ``duplicate``, ``stale`` or ``rejected``, as recorded (or ``not recorded``)."""
    reason: str
    source: str
    """The timeline entry it comes from, or ``closing`` (a withdrawal at the end)."""

    def to_json(self) -> dict[str, Any]:
        """One entry of ``with_hq_decisions.decisions``."""
        return {
            "at": self.at.isoformat(),
            "id": self.decision_id,
            "kind": self.kind,
            "level": self.level,
            "areas": list(self.areas),
            "references": list(self.references),
            "outcome": self.outcome,
            "reason": self.reason,
            "source": self.source,
        }


@dataclass(frozen=True)
class WithDecisions:
    """The drill's response with the HQ's decisions applied (``--with-hq-decisions``)."""

    decisions: tuple[DecisionSent, ...]
    levels: tuple[LevelChange, ...]
    """The effective level changes: what the response acted on."""
    comparison: tuple[Comparison, ...]
    """The effective levels beside each HQ change, judged as the automatic ones are."""
    comparison_counts: dict[str, int]

    def level_at(self, area: str, moment: datetime) -> str:
        """The effective level in ``area`` at ``moment`` (changes at ``moment`` included)."""
        return _level_at(_series(self.levels, area), moment)

    def to_json(self) -> dict[str, Any]:
        """``with_hq_decisions`` in ``--json``."""
        return {
            "decisions_replayed": sum(1 for d in self.decisions if d.source != "closing"),
            "closing_withdrawals": sum(1 for d in self.decisions if d.source == "closing"),
            "decisions": [d.to_json() for d in self.decisions],
            "levels": [_change(c) for c in self.levels],
            "historical_comparison": _comparison_json(self.comparison, self.comparison_counts),
        }


@dataclass(frozen=True)
class DrillResult:
    """Everything the after-action report and ``--json`` show."""

    storm: str
    name: str
    name_zh: str
    run_id: str
    response_ids: tuple[str, ...]
    mode: str
    speed: float
    seed: int
    plan: str
    wall_seconds: float
    storm_start: datetime
    storm_end: datetime
    drill_end: datetime
    """Storm time at which the drill stopped (end + cool-down + tail)."""
    warnings: tuple[WarningSent, ...]
    warnings_replayed: int
    closing_cancellations: int
    skipped: tuple[tuple[str, str], ...]
    """(entry, reason) for what was not replayed."""
    levels: tuple[LevelChange, ...]
    tasks_dispatched: int
    agencies: tuple[AgencyFigures, ...]
    acknowledge: Percentiles
    complete: Percentiles
    escalations: int
    escalations_by_kind: dict[str, int]
    deadlines_missed: int
    open_at_end: int
    historical: tuple[HistoricalLevel, ...]
    comparison: tuple[Comparison, ...]
    comparison_counts: dict[str, int]
    events: tuple[dict[str, Any], ...]
    """Every timeline entry, timed and untimed, for the report."""
    anomalies: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    with_hq: WithDecisions | None = None
    """With ``--with-hq-decisions``: the decisions and the effective levels (``levels`` and
    ``comparison`` stay the automatic rules')."""

    @property
    def areas(self) -> list[str]:
        """Areas that ever responded or had an HQ level, ``citywide`` first."""
        found = {c.area for c in self.levels} | {h.area for h in self.historical}
        return sorted(found, key=area_order)

    def level_at(self, area: str, moment: datetime) -> str:
        """tidegate's level in ``area`` at ``moment`` (changes at ``moment`` included)."""
        return _level_at(_series(self.levels, area), moment)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object (see ``docs/drills.md``)."""
        return {
            "storm": self.storm,
            "name": self.name,
            "run_id": self.run_id,
            "response_ids": list(self.response_ids),
            "mode": self.mode,
            "speed": self.speed,
            "seed": self.seed,
            "plan": self.plan,
            "wall_seconds": round(self.wall_seconds, 2),
            "storm_start": self.storm_start.isoformat(),
            "storm_end": self.storm_end.isoformat(),
            "drill_end": self.drill_end.isoformat(),
            "warnings_replayed": self.warnings_replayed,
            "closing_cancellations": self.closing_cancellations,
            "warnings_skipped": [{"entry": e, "reason": r} for e, r in self.skipped],
            "tasks_dispatched": self.tasks_dispatched,
            "tasks_by_agency": {a.agency: a.dispatched for a in self.agencies},
            "escalations": self.escalations,
            "escalations_by_kind": self.escalations_by_kind,
            "deadlines_missed": self.deadlines_missed,
            "open_at_end": self.open_at_end,
            "latency_minutes": {
                "acknowledge": asdict(self.acknowledge),
                "complete": asdict(self.complete),
            },
            "levels": [_change(c) for c in self.levels],
            "historical_comparison": _comparison_json(self.comparison, self.comparison_counts),
            "with_hq_decisions": self.with_hq.to_json() if self.with_hq else None,
            "agencies": [asdict(a) for a in self.agencies],
            "anomalies": list(self.anomalies),
            **self.extra,
        }

    def dumps(self) -> str:
        """The ``--json`` object as one line of text."""
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=False)


def _change(change: LevelChange) -> dict[str, str]:
    return {"at": change.at.isoformat(), "area": change.area, "level": change.level}


def _comparison_json(comparison: Sequence[Comparison], counts: dict[str, int]) -> dict[str, Any]:
    return {
        "tolerance_minutes": TOLERANCE_MINUTES,
        "counts": counts,
        "entries": [
            {
                "at": c.at.isoformat(),
                "area": c.area,
                "historical": c.historical,
                "verdict": c.verdict,
                "tidegate_at": c.tidegate_at.isoformat() if c.tidegate_at else None,
                "lag_minutes": c.lag_minutes,
                "tidegate_level": c.tidegate_level,
                "source": c.source,
            }
            for c in comparison
        ],
    }


# --- building --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFacts:
    """What the runner knows about a finished drill, besides the database rows."""

    script: DrillScript
    plan: Plan
    timebase: Timebase
    mode: str
    seed: int
    wall_seconds: float
    stopped_at: datetime
    """Service time at which the drill stopped."""
    sent: tuple[tuple[Step, datetime], ...]
    """Each warning sent with its service time, in order."""
    anomalies: tuple[str, ...] = ()
    hq_sent: tuple[tuple[HqStep, datetime], ...] = ()
    """Each HQ decision sent with its service time, in order (``--with-hq-decisions``)."""
    with_hq_decisions: bool = False


def build_result(facts: RunFacts, rows: Sequence[DrillRows]) -> DrillResult:
    """Turn a drill's database rows into its figures.

    Args:
        facts: The drill as the runner saw it.
        rows: Every response of the drill's region, oldest first.

    Returns:
        The figures, every time in storm time.
    """
    timebase, script = facts.timebase, facts.script
    storm = timebase.storm
    effective = _levels(rows, storm)
    decisions = {w.id: w.decision for r in rows for w in r.warnings}
    warnings, expected, automatic = _warnings(facts, decisions)
    # With the HQ's decisions the response acts on the effective levels and records the
    # automatic ones only when the effective ones move: the rules' own levels are the engine's.
    levels = _changes(automatic) if facts.with_hq_decisions else effective
    tasks = [t for r in rows for t in r.tasks]
    events = [e for r in rows for e in r.events]
    escalations = [e for r in rows for e in r.escalations]
    figures = _agencies(tasks, events, escalations, timebase)
    all_ack = _percentiles(_latencies(tasks, events, "acknowledge", timebase))
    all_done = _percentiles(_latencies(tasks, events, "complete", timebase))
    comparison = compare_history(script.historical, levels, storm(facts.stopped_at))
    with_hq = _with_decisions(facts, rows, effective) if facts.with_hq_decisions else None
    timeline = script.timeline
    return DrillResult(
        storm=timeline.slug,
        name=timeline.name,
        name_zh=timeline.name_zh,
        run_id=script.run_id,
        response_ids=tuple(r.response.id for r in rows if r.response is not None),
        mode=facts.mode,
        speed=timebase.speed,
        seed=facts.seed,
        plan=f"{facts.plan.plan_id}@{facts.plan.version}",
        wall_seconds=facts.wall_seconds,
        storm_start=timeline.start,
        storm_end=timeline.end,
        drill_end=storm(facts.stopped_at),
        warnings=tuple(warnings),
        warnings_replayed=sum(1 for w in warnings if w.source != "closing"),
        closing_cancellations=sum(1 for w in warnings if w.source == "closing"),
        skipped=tuple((s.event.label, s.reason) for s in script.skipped),
        levels=tuple(levels),
        tasks_dispatched=len(tasks),
        agencies=tuple(figures),
        acknowledge=all_ack,
        complete=all_done,
        escalations=len(escalations),
        escalations_by_kind=dict(sorted(Counter(e.kind for e in escalations).items())),
        deadlines_missed=sum(1 for e in events if e.kind == "deadline_missed"),
        open_at_end=sum(a.open_at_end for a in figures),
        historical=script.historical,
        comparison=tuple(comparison),
        comparison_counts=_counts(comparison),
        events=tuple(_timeline_rows(script, with_hq=facts.with_hq_decisions)),
        anomalies=facts.anomalies + tuple(_lagging(expected, effective)),
        sources=timeline.sources,
        notes=timeline.notes,
        with_hq=with_hq,
    )


def _changes(expected: Sequence[tuple[datetime, dict[str, str]]]) -> list[LevelChange]:
    """Per-area level changes from the levels after each message (the last of an instant)."""
    by_instant: dict[datetime, dict[str, str]] = {}
    for at, levels in expected:
        by_instant[at] = levels
    changes: list[LevelChange] = []
    current: dict[str, str] = {}
    for at in sorted(by_instant):
        after = by_instant[at]
        for area in sorted(set(current) | set(after), key=area_order):
            if current.get(area, NONE) != after.get(area, NONE):
                changes.append(LevelChange(at, area, after.get(area, NONE)))
        current = after
    return changes


def _levels(rows: Sequence[DrillRows], storm: Any) -> list[LevelChange]:
    """Per-area level changes from the ``levels_changed`` audit rows, in time order: the
    levels the response acted on (with the HQ's decisions, the effective ones)."""
    changes: list[LevelChange] = []
    current: dict[str, str] = {}
    for response in rows:
        for audit in response.levels:
            at = storm(utc(audit.at))
            after = {str(a): str(v) for a, v in dict(audit.detail.get("levels", {})).items()}
            for area in sorted(set(current) | set(after), key=area_order):
                before_level, after_level = current.get(area, NONE), after.get(area, NONE)
                if before_level != after_level:
                    changes.append(LevelChange(at, area, after_level))
            current = after
    return changes


def _messages(facts: RunFacts) -> list[tuple[Step | HqStep, datetime]]:
    """Warnings and HQ decisions in the order the drill sent them: by time, then as the
    timeline lists them (at the end: withdrawals, then cancellations)."""

    def order(sent: tuple[Step | HqStep, datetime]) -> tuple[datetime, int, int]:
        step, at = sent
        index = step.event.index if step.event is not None else 1 << 30
        return at, index, 0 if isinstance(step, HqStep) else 1

    return sorted([*facts.sent, *facts.hq_sent], key=order)


Expected = list[tuple[datetime, dict[str, str]]]
"""Storm time and area -> level after each message the drill sent, in order."""


def _warnings(
    facts: RunFacts, decisions: dict[str, str]
) -> tuple[list[WarningSent], Expected, Expected]:
    """The warnings sent, with the warnings in force per area after each and the levels the
    plan gives then; and after every message (warnings and HQ decisions) the levels the plan
    gives with the HQ's decisions sent so far (at the entry's storm time) and without them
    (at the storm time it was sent)."""
    ledger = AlertLedger()
    hq = HqLedger()
    out: list[WarningSent] = []
    expected: Expected = []
    automatic: Expected = []
    closing_ids = {s.alert_id for s in facts.script.closing}
    for step, sent_at in _messages(facts):
        at = step.at if step.event is not None else facts.timebase.storm(sent_at)
        if isinstance(step, HqStep):
            message: Alert | HqDecision = step.decision(sent_at)
        else:
            payload = json.dumps(step.document(sent_at)).encode()
            message = parse_alert(payload, plan=facts.plan, now=sent_at)
        response = engine.replay(ledger, facts.plan, message, sent_at, hq)
        assessments = assess(ledger.active(), facts.plan)
        expected.append((at, {a: str(level) for a, level in response.levels.items()}))
        levels_then = {a: str(x.level) for a, x in assessments.items()}
        automatic.append((facts.timebase.storm(sent_at), levels_then))  # when it was sent
        if isinstance(step, HqStep):
            continue
        in_force = {
            area: {str(h.hazard): str(h.level) for h in assessment.hazards}
            for area, assessment in assessments.items()
        }
        closing = step.alert_id in closing_ids
        out.append(
            WarningSent(
                at=step.at if not closing else facts.timebase.storm(sent_at),
                alert_id=step.alert_id,
                kind=step.kind,
                hazard=str(step.hazard),
                level=step.level,
                areas=step.areas,
                decision=decisions.get(step.alert_id, "not recorded"),
                source="closing" if closing or step.event is None else step.event.label,
                note=step.note,
                in_force=in_force,
                expected_levels=expected[-1][1],
            )
        )
    return out, expected, automatic


def _with_decisions(
    facts: RunFacts, rows: Sequence[DrillRows], effective: Sequence[LevelChange]
) -> WithDecisions:
    """The HQ decisions replayed, what the response made of each, and the effective levels
    beside the HQ's."""
    logged: dict[str, tuple[str, str]] = {}
    for response in rows:
        for entry in response.hq_decisions:
            detail = entry.detail
            key = str(detail.get("decision_id", ""))
            logged.setdefault(key, (str(detail["outcome"]), str(detail.get("outcome_reason", ""))))
    decisions = []
    for step, sent_at in facts.hq_sent:
        outcome, reason = logged.get(step.decision_id, ("not recorded", ""))
        closing = step.event is None
        decisions.append(
            DecisionSent(
                at=facts.timebase.storm(sent_at) if closing else step.at,
                decision_id=step.decision_id,
                kind=str(step.kind),
                level=step.level,
                areas=step.areas,
                references=step.references,
                outcome=outcome,
                reason=reason,
                source="closing" if step.event is None else step.event.label,
            )
        )
    drill_end = facts.timebase.storm(facts.stopped_at)
    comparison = compare_history(facts.script.historical, effective, drill_end)
    return WithDecisions(tuple(decisions), tuple(effective), tuple(comparison), _counts(comparison))


def _lagging(
    expected: Sequence[tuple[datetime, dict[str, str]]], levels: Sequence[LevelChange]
) -> list[str]:
    """Storm instants after which the response did not show the plan's levels in time.

    The response must reach, before the next instant's warnings (or HQ decisions), the levels
    the plan gives for everything sent so far (``expected``: storm time and levels after each
    message, in order). It cannot when the services fall behind the storm clock (too high a
    ``--speed``); with ``--fast`` the drill waits for it, so this also catches defects.
    """
    out = []
    instants = sorted({at for at, _ in expected})
    for index, instant in enumerate(instants):
        settled = instants[index + 1] if index + 1 < len(instants) else None
        if settled is None:
            continue
        want = [levels_then for at, levels_then in expected if at == instant][-1]
        areas = set(want) | {c.area for c in levels}
        shown = {a: _level_at(_series(levels, a), settled) for a in areas}
        plan = {a: want.get(a, NONE) for a in areas}
        if shown != plan:
            wrong = sorted(a for a in areas if shown[a] != plan[a])
            detail = ", ".join(f"{a} {shown[a]} (plan: {plan[a]})" for a in wrong[:4])
            out.append(
                f"after the messages of {instant.isoformat()} the response had not reached the "
                f"plan's levels by {settled.isoformat()}: {detail}"
                + (f" and {len(wrong) - 4} more" if len(wrong) > 4 else "")
                + "; the services fell behind the storm clock (try a lower --speed)"
            )
    return out


def _agencies(
    tasks: Sequence[Any], events: Sequence[Any], escalations: Sequence[Any], timebase: Timebase
) -> list[AgencyFigures]:
    by_task: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        by_task[event.task_id].append(event)
    escalated = Counter(e.task_id for e in escalations)
    out = []
    for agency in sorted({t.agency for t in tasks}):
        mine = [t for t in tasks if t.agency == agency]
        kinds = [Counter(e.kind for e in by_task[t.id]) for t in mine]
        out.append(
            AgencyFigures(
                agency=agency,
                dispatched=len(mine),
                acknowledged=sum(1 for k in kinds if k["acknowledge"]),
                completed=sum(1 for t in mine if t.state == TaskState.COMPLETED),
                declined=sum(1 for t in mine if t.state == TaskState.DECLINED),
                stood_down=sum(1 for t in mine if t.state == TaskState.STOOD_DOWN),
                open_at_end=sum(1 for t in mine if t.state not in _CLOSED),
                escalations=sum(escalated[t.id] for t in mine),
                deadlines_missed=sum(k["deadline_missed"] for k in kinds),
                acknowledge=_percentiles(_latencies(mine, events, "acknowledge", timebase)),
                complete=_percentiles(_latencies(mine, events, "complete", timebase)),
            )
        )
    return out


_CLOSED = (TaskState.COMPLETED, TaskState.DECLINED, TaskState.STOOD_DOWN)


def _latencies(
    tasks: Iterable[Any], events: Sequence[Any], kind: str, timebase: Timebase
) -> list[float]:
    """Storm minutes from dispatch to the first ``kind`` event of each task that has one."""
    issued = {t.id: utc(t.issued_at) for t in tasks}
    seen: set[str] = set()
    out = []
    for event in events:
        if event.kind != kind or event.task_id not in issued or event.task_id in seen:
            continue
        seen.add(event.task_id)
        service_minutes = (utc(event.at) - issued[event.task_id]).total_seconds() / 60
        out.append(round(service_minutes * timebase.speed, 1))
    return out


def _percentiles(values: Sequence[float]) -> Percentiles:
    if not values:
        return Percentiles(0, None, None, None, None)
    ordered = sorted(values)
    return Percentiles(
        n=len(ordered),
        p50=_quantile(ordered, 0.5),
        p90=_quantile(ordered, 0.9),
        p99=_quantile(ordered, 0.99),
        max=ordered[-1],
    )


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 1)


# --- the historical comparison ---------------------------------------------------------------


def _series(levels: Iterable[LevelChange], area: str) -> list[tuple[datetime, str]]:
    """tidegate's level changes in one area, in time order."""
    return [(c.at, c.level) for c in levels if c.area == area]


def _level_at(series: Sequence[tuple[datetime, str]], moment: datetime) -> str:
    level = NONE
    for at, value in series:
        if at > moment:
            break
        level = value
    return level


def _stretches(series: Sequence[tuple[datetime, str]]) -> list[tuple[datetime | None, str]]:
    """(start, level) of each stretch at one level; the first starts at ``None`` (always)."""
    out: list[tuple[datetime | None, str]] = [(None, NONE)]
    for at, value in series:
        if value != out[-1][1]:
            out.append((at, value))
    return out


def compare_history(
    historical: Sequence[HistoricalLevel], levels: Sequence[LevelChange], drill_end: datetime
) -> list[Comparison]:
    """Put tidegate's level beside each headquarters change (rules in the module docstring).

    Args:
        historical: The HQ's level changes, in time order.
        levels: tidegate's level changes, in time order.
        drill_end: When the drill stopped (storm time); nothing after it is known.

    Returns:
        One comparison per HQ change.
    """
    tolerance = timedelta(minutes=TOLERANCE_MINUTES)
    out = []
    for index, entry in enumerate(historical):
        series = _series(levels, entry.area)
        wanted = entry.level or NONE
        later = [h.at for h in historical[index + 1 :] if h.area == entry.area and h.at > entry.at]
        until = min(later, default=drill_end)
        stretches = _stretches(series)
        then = entry.at + SAME_INSTANT
        current = [s for s in stretches if s[0] is None or s[0] <= then][-1]
        reached: datetime | None = None
        if current[1] == wanted:
            reached = current[0]
            early = reached is None or entry.at - reached > tolerance
            verdict = "early" if early else "agreement"
        else:
            reached = next(
                (
                    at
                    for at, level in stretches
                    if at and entry.at < at <= until and level == wanted
                ),
                None,
            )
            if reached is None:
                verdict = "missing"
            else:
                verdict = "agreement" if reached - entry.at <= tolerance else "late"
        lag = None if reached is None else round((reached - entry.at).total_seconds() / 60, 1)
        out.append(
            Comparison(
                at=entry.at,
                area=entry.area,
                historical=wanted,
                verdict=verdict,
                tidegate_at=reached,
                lag_minutes=lag,
                tidegate_level=current[1],
                source=entry.event.label,
            )
        )
    return out


def _counts(comparison: Sequence[Comparison]) -> dict[str, int]:
    counts = Counter(c.verdict for c in comparison)
    return {verdict: counts[verdict] for verdict in ("agreement", "early", "late", "missing")}


def _timeline_rows(script: DrillScript, *, with_hq: bool = False) -> list[dict[str, Any]]:
    """Every entry of the timeline, for the report's storm table."""
    skipped: dict[int, list[str]] = defaultdict(list)
    for skip in script.skipped:
        skipped[skip.event.index].append(skip.reason)
    sent = {s.event.index: s for s in script.steps if s.event is not None}
    declared = {d.event.index: d for d in script.hq_steps if d.event is not None}
    rows: list[dict[str, Any]] = []
    for event in script.timeline.events:
        step = sent.get(event.index)
        if step is not None:
            replay = f"{step.kind} {step.hazard} {step.level} ({', '.join(step.areas)})"
            if step.note:
                replay += f"; {step.note}"
        elif event.kind.value == "response" and with_hq and event.index in declared:
            replay = f"historical HQ level, compared; replayed as {declared[event.index].summary}"
        elif event.kind.value == "response":
            replay = "historical HQ level (compared, not replayed)"
        elif skipped.get(event.index):
            replay = "skipped: " + "; ".join(skipped[event.index])
        else:
            replay = "for the record"
        if step is not None and skipped.get(event.index):
            replay += "; " + "; ".join(skipped[event.index])
        rows.append(
            {
                "at": event.at,
                "kind": str(event.kind),
                "what": " ".join(
                    str(x) for x in (event.hazard, event.action, event.level) if x is not None
                ),
                "areas": ", ".join(event.areas),
                "confidence": str(event.confidence) if event.confidence else "",
                "replay": replay,
                "note": event.note,
            }
        )
    for untimed in script.timeline.untimed_events:
        rows.append(
            {
                "at": None,
                "date": untimed.date.isoformat(),
                "kind": str(untimed.kind),
                "what": " ".join(
                    str(x) for x in (untimed.hazard, untimed.action, untimed.level) if x is not None
                ),
                "areas": ", ".join(untimed.areas),
                "confidence": "",
                "replay": "untimed: for the record only",
                "note": untimed.note,
            }
        )
    return rows
