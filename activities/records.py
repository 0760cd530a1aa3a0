"""Database activities: every write a response makes, each idempotent under retries.

The keys come from workflow input (response id, task id, the transition's sequence number), so
a retried activity meets its own earlier row and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity

from plans.model import Plan, Task
from store import records

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@dataclass(frozen=True)
class RecordResponseInput:
    """A response starting (or continuing as new) with the plan it pins."""

    response_id: str
    region: str
    drill: bool
    plan: Plan
    at: datetime


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


@dataclass(frozen=True)
class RecordTasksInput:
    """Tasks about to be dispatched; rows are created before any message leaves."""

    response_id: str
    drill: bool
    plan_version: str
    tasks: tuple[Task, ...]
    issued_at: datetime


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


def task_key(response_id: str, task: Task) -> str:
    """The global task id: unique across responses, stable across retries and restarts."""
    return f"{response_id}/{task.id}"


class RecordActivities:
    """Activities over an SQLAlchemy session factory (built once in ``worker.py``)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def record_response(self, inp: RecordResponseInput) -> None:
        """Store the pinned plan and the response row."""
        async with self._sessions.begin() as session:
            await records.save_response(
                session, inp.response_id, inp.region, inp.drill, inp.plan, inp.at
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
    async def record_tasks(self, inp: RecordTasksInput) -> None:
        """Create one row per task (never two, whatever retries happen)."""
        rows = [
            {
                "id": task_key(inp.response_id, task),
                "response_id": inp.response_id,
                "plan_task_id": task.id,
                "action_id": task.action_id,
                "agency": task.agency,
                "area": task.area,
                "asset": task.asset,
                "hazard": str(task.hazard),
                "response_level": str(task.response_level),
                "state": "dispatched",
                "drill": inp.drill,
                "plan_version": inp.plan_version,
                "issued_at": inp.issued_at,
                "deadline_at": inp.issued_at + timedelta(minutes=task.deadline_minutes),
                "updated_at": inp.issued_at,
            }
            for task in inp.tasks
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
