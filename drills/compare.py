"""What two plans would have done differently for the same storm: pure, no services.

``compare_storm(timeline, plan_a, plan_b)`` maps the timeline once per plan (each plan's own
catalogue names the areas), feeds the warnings, in order, through the same
:class:`~plans.ledger.AlertLedger` the response workflow keeps, and asks each plan
(:func:`plans.rules.respond`) for the levels and the tasks due after every warning. The same
replay of a single plan, :func:`plan_levels`, is what a drill's recorded levels must follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.hq import parse_decision
from alerts.intake import parse_alert
from drills.mapping import HQ_NAME, DrillScript, HqStep, Step, map_timeline
from drills.timeline import Timeline
from plans import engine
from plans.hq import HqLedger
from plans.ledger import AlertLedger
from plans.model import Plan
from plans.rules import area_order


@dataclass(frozen=True)
class PlanState:
    """One plan's answer after one warning."""

    levels: dict[str, str]
    tasks: frozenset[str]


@dataclass(frozen=True)
class StepComparison:
    """Both plans after one warning of the storm."""

    at: datetime
    source: str
    """The timeline entry (``events[3] (at ...)``) or ``closing``."""
    warning: str
    """What was sent, e.g. ``update wind orange (citywide)``."""
    a: PlanState
    b: PlanState

    @property
    def level_differences(self) -> dict[str, tuple[str, str]]:
        """Area -> (level under A, level under B) where they differ (``none``: no response)."""
        areas = sorted(set(self.a.levels) | set(self.b.levels), key=area_order)
        return {
            area: (self.a.levels.get(area, "none"), self.b.levels.get(area, "none"))
            for area in areas
            if self.a.levels.get(area) != self.b.levels.get(area)
        }

    @property
    def only_a(self) -> list[str]:
        """Tasks due under A and not under B."""
        return sorted(self.a.tasks - self.b.tasks)

    @property
    def only_b(self) -> list[str]:
        """Tasks due under B and not under A."""
        return sorted(self.b.tasks - self.a.tasks)


@dataclass(frozen=True)
class StormComparison:
    """Two plans over one storm."""

    storm: str
    plan_a: str
    plan_b: str
    steps: tuple[StepComparison, ...]
    skipped: tuple[str, ...] = field(default=())

    @property
    def differing(self) -> list[StepComparison]:
        """The steps where the plans disagree on a level or a task."""
        return [s for s in self.steps if s.level_differences or s.only_a or s.only_b]

    def dispatched(self, which: str) -> set[str]:
        """Every task the plan would have dispatched at some point (``a`` or ``b``)."""
        return {task for s in self.steps for task in (s.a if which == "a" else s.b).tasks}

    def to_json(self) -> dict[str, Any]:
        """The ``tidegate drill compare --json`` object."""
        return {
            "storm": self.storm,
            "plan_a": self.plan_a,
            "plan_b": self.plan_b,
            "tasks_dispatched": {"a": len(self.dispatched("a")), "b": len(self.dispatched("b"))},
            "steps": [
                {
                    "at": s.at.isoformat(),
                    "source": s.source,
                    "warning": s.warning,
                    "levels_a": s.a.levels,
                    "levels_b": s.b.levels,
                    "level_differences": {k: list(v) for k, v in s.level_differences.items()},
                    "tasks_only_a": s.only_a,
                    "tasks_only_b": s.only_b,
                }
                for s in self.steps
            ],
            "skipped": list(self.skipped),
        }


def plan_levels(
    script: DrillScript, plan: Plan, *, with_hq: bool = False
) -> list[tuple[Step | HqStep, PlanState]]:
    """Replay a drill script's warnings (closing cancellations last) through one plan.

    Each warning is sent at its storm time, parsed by the real intake and applied by the real
    ledger; the state after each is what a response running ``plan`` must show once that
    warning is handled. With ``with_hq`` the HQ's recorded decisions go in between, as a drill
    ``--with-hq-decisions`` sends them (the timeline's order; at the end the withdrawals
    before the cancellations), read by the real intake and applied by the engine.
    """
    ledger, hq = AlertLedger(), HqLedger()
    messages: list[Step | HqStep] = [*script.steps]
    if with_hq:
        messages = sorted([*messages, *script.hq_steps], key=_entry_order)
        messages += script.hq_closing
    messages += script.closing
    out: list[tuple[Step | HqStep, PlanState]] = []
    for step in messages:
        document = json.dumps(step.document(step.at)).encode()
        if isinstance(step, HqStep):
            decision = parse_decision(document, plan, decided_by=HQ_NAME, now=step.at)
            response = engine.replay(ledger, plan, decision, step.at, hq)
        else:
            alert = parse_alert(document, plan=plan, now=step.at)
            response = engine.replay(ledger, plan, alert, step.at, hq)
        levels = {area: str(level) for area, level in response.levels.items()}
        out.append((step, PlanState(levels, frozenset(t.id for t in response.tasks))))
    return out


def _entry_order(step: Step | HqStep) -> tuple[datetime, int]:
    """Storm time, then the timeline's order (every replayed entry has an event)."""
    assert step.event is not None
    return step.at, step.event.index


def compare_storm(timeline: Timeline, plan_a: Plan, plan_b: Plan) -> StormComparison:
    """Both plans' levels and tasks after every warning of ``timeline``."""
    replay_a = plan_levels(map_timeline(timeline, plan_a), plan_a)
    replay_b = {
        _key(step): state for step, state in plan_levels(map_timeline(timeline, plan_b), plan_b)
    }
    empty = PlanState({}, frozenset())
    steps = [
        StepComparison(
            at=step.at,
            source=step.event.label if step.event is not None else "closing",
            warning=f"{step.kind} {step.hazard} {step.level} ({', '.join(step.areas)})",
            a=state,
            b=replay_b.get(_key(step), empty),
        )
        for step, state in replay_a
        if isinstance(step, Step)
    ]
    skipped = tuple(f"{s.event.label}: {s.reason}" for s in map_timeline(timeline, plan_a).skipped)
    return StormComparison(
        storm=timeline.slug,
        plan_a=f"{plan_a.plan_id}@{plan_a.version}",
        plan_b=f"{plan_b.plan_id}@{plan_b.version}",
        steps=tuple(steps),
        skipped=skipped,
    )


def _key(step: Step | HqStep) -> str:
    """Steps of the two mappings correspond by id (entry index, or closing number)."""
    return step.alert_id if isinstance(step, Step) else step.decision_id
