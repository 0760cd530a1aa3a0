"""Database activities: every write a response makes, each idempotent under retries.

The keys come from workflow input (response id, task id, the transition's sequence number), so
a retried activity meets its own earlier row and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from plans.hq import HqDecision
from plans.lifecycle import TaskState, deadline, task_key
from plans.model import Plan, Task
from store import records
from workflows.types import TaskInput, Tracking

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from activities.messaging import PlanSource


PLAN_UNKNOWN = "PlanUnknown"
"""Error type of ``record_response`` when neither this worker nor the database knows the plan."""


@dataclass(frozen=True)
class RecordResponseInput:
    """A response starting (or continuing as new, or switching plans) with the plan it pins.

    The plan goes by hash: the worker knows its own plan and the database every plan a response
    ever pinned. Only when neither knows it (an intake or drill with another plan version) does
    the workflow send the plan itself, once (``plan``).
    """

    response_id: str
    region: str
    drill: bool
    plan_id: str
    plan_version: str
    plan_hash: str
    at: datetime
    plan: Plan | None = None


@dataclass(frozen=True)
class RecordLevelsInput:
    """The response level per area after a warning was applied."""

    response_id: str
    levels: dict[str, str]
    status: str
    key: str
    """Audit idempotency key: response id plus the workflow's change counter."""
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordWarningInput:
    """A warning the response received and what intake decided about it."""

    response_id: str
    warning_id: str
    kind: str
    hazard: str
    level: str
    areas: tuple[str, ...]
    status: str
    decision: str
    sent: datetime
    headline: str
    at: datetime
    reason: str = ""
    """Why the ledger decided so (``plans.ledger.Outcome.reason``), for the sender to read."""
    references: tuple[str, ...] = ()
    """The ids this update or cancel names."""
    warning: str = ""
    """Id of the first message of the warning the ledger filed it under ("" if none)."""
    arrival: bool = True
    """False when decided later than arrival: a held message released or orphaned."""


@dataclass(frozen=True)
class RecordHqDecisionInput:
    """An HQ decision the response received and what its ledger made of it."""

    response_id: str
    decision: HqDecision
    outcome: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class RecordTasksInput:
    """Tasks about to be dispatched; rows are created before any message leaves.

    The fields after ``issued_at`` came with re-dispatch and early answers; inputs recorded
    before them (in histories) decode with the defaults and behave as they always did.
    """

    response_id: str
    drill: bool
    plan_version: str
    tasks: tuple[Task, ...]
    issued_at: datetime
    dispatches: tuple[int, ...] = ()
    """Dispatch number per task (``plans.lifecycle.task_key``); empty means all first."""
    parent_workflow_id: str = ""
    """The response's workflow id; when set, each row keeps its task workflow's input."""
    plan_hash: str = ""
    time_scale: float = 1.0


@dataclass(frozen=True)
class TaskTransitionInput:
    """A task changing state; ``seq`` orders transitions and makes the event key unique."""

    task_id: str
    seq: int
    state: str
    kind: str
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordEscalationInput:
    """An escalation step that fired for an unacknowledged task."""

    task_id: str
    response_id: str
    step: int
    kind: str
    to: str
    at: datetime


def tracking_for(
    inp: RecordTasksInput, task: Task, number: int, task_queue: str
) -> Tracking | None:
    """The task workflow's input, kept in the row (``workflows.tracking``)."""
    if not inp.parent_workflow_id:
        return None  # a response of an earlier release starts its task workflows itself
    task_id = task_key(inp.response_id, task.id, number)
    return Tracking(
        task_queue,
        TaskInput(
            task_id,
            inp.response_id,
            inp.parent_workflow_id,
            task,
            inp.plan_hash,
            inp.drill,
            inp.issued_at,
            inp.time_scale,
        ),
    )


def _encoded(tracking: Tracking | None) -> str | None:
    return None if tracking is None else tracking.encode()


class RecordActivities:
    """Activities over an SQLAlchemy session factory (built once in ``worker.py``)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], plans: PlanSource) -> None:
        self._sessions = sessions
        self._plans = plans

    @activity.defn
    async def record_response(self, inp: RecordResponseInput) -> None:
        """Store the pinned plan (if new) and the response row."""
        plan = inp.plan
        if plan is None:
            try:
                plan = await self._plans.get(inp.plan_hash)
            except LookupError as exc:
                raise ApplicationError(str(exc), type=PLAN_UNKNOWN, non_retryable=True) from None
        async with self._sessions.begin() as session:
            await records.save_response(
                session, inp.response_id, inp.region, inp.drill, plan, inp.at
            )

    @activity.defn
    async def record_levels(self, inp: RecordLevelsInput) -> None:
        """Update the response's levels and append the change to the audit log."""
        async with self._sessions.begin() as session:
            await records.save_levels(
                session, inp.response_id, inp.levels, inp.status, inp.key, inp.at, inp.detail
            )

    @activity.defn
    async def record_warning(self, inp: RecordWarningInput) -> None:
        """Store a received warning once."""
        async with self._sessions.begin() as session:
            await records.save_warning(session, **vars(inp))

    @activity.defn
    async def record_hq_decision(self, inp: RecordHqDecisionInput) -> None:
        """Log an HQ decision and its outcome once (in the response's audit log).

        Keyed, as warnings are, by the outcome and the time it was taken as well: a re-send of
        the id gets a ``duplicate`` entry of its own, which intake reads to tell the sender
        (``alerts.hq``); a retried activity carries the same time and adds nothing.
        """
        d = inp.decision
        async with self._sessions.begin() as session:
            await records.audit(
                session,
                f"{inp.response_id}:hq:{d.id}:{inp.outcome}:{inp.at.isoformat()}",
                inp.response_id,
                "hq_decision",
                inp.at,
                decision_id=d.id,
                kind=str(d.kind),
                level=str(d.level) if d.level else None,
                areas=list(d.areas),
                hazards=[str(h) for h in d.hazards],
                references=list(d.references),
                decided_by=d.decided_by,
                reason=d.reason,
                sent=d.sent.isoformat(),
                outcome=inp.outcome,
                outcome_reason=inp.reason,
            )

    @activity.defn
    async def record_tasks(self, inp: RecordTasksInput) -> None:
        """Create one row per task (never two, whatever retries happen)."""
        task_queue = activity.info().task_queue
        numbers = inp.dispatches or (1,) * len(inp.tasks)
        rows = [
            {
                "id": task_key(inp.response_id, task.id, number),
                "dispatch": number,
                "tracking": _encoded(tracking_for(inp, task, number, task_queue)),
                "response_id": inp.response_id,
                "plan_task_id": task.id,
                "action_id": task.action_id,
                "agency": task.agency,
                "area": task.area,
                "asset": task.asset,
                "hazard": str(task.hazard),
                "response_level": str(task.response_level),
                "state": TaskState.DISPATCHED,
                "drill": inp.drill,
                "plan_version": inp.plan_version,
                "issued_at": inp.issued_at,
                "deadline_at": deadline(inp.issued_at, task.deadline_minutes, inp.time_scale),
                "updated_at": inp.issued_at,
            }
            for task, number in zip(inp.tasks, numbers, strict=True)
        ]
        async with self._sessions.begin() as session:
            await records.save_tasks(session, rows)

    @activity.defn
    async def record_task_transition(self, inp: TaskTransitionInput) -> None:
        """Move a task to a new state and log the transition once."""
        async with self._sessions.begin() as session:
            await records.save_transition(
                session, inp.task_id, inp.seq, inp.state, inp.kind, inp.at, inp.detail
            )

    @activity.defn
    async def record_escalation(self, inp: RecordEscalationInput) -> None:
        """Store an escalation step once."""
        async with self._sessions.begin() as session:
            await records.save_escalation(session, **vars(inp))
