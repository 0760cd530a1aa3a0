"""A task's life in one place: its states, its ids and its deadlines.

The response workflow, the task workflow, the activities, the database and the agency intake
all name tasks and compute their deadlines; they all ask this module, so a task id or a
deadline can never be built two ways. Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class TaskState(StrEnum):
    """Where a task stands; the values are what the database and the messages carry."""

    DISPATCHED = "dispatched"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    OVERDUE = "overdue"
    COMPLETED = "completed"
    DECLINED = "declined"
    STOOD_DOWN = "stood_down"

    @property
    def is_open(self) -> bool:
        """Someone still has to act on the task."""
        return self in OPEN_STATES


OPEN_STATES: tuple[TaskState, ...] = (
    TaskState.DISPATCHED,
    TaskState.ESCALATED,
    TaskState.ACKNOWLEDGED,
    TaskState.IN_PROGRESS,
    TaskState.OVERDUE,
)
"""States in which a task still needs someone; a tuple, not a set: workflows iterate it."""

UNANSWERED_STATES: tuple[TaskState, ...] = (
    TaskState.DISPATCHED,
    TaskState.ESCALATED,
    TaskState.OVERDUE,
)
"""States in which the task workflow still takes an acknowledgement as news (kept as every
release had it: histories replay against it). A task turns overdue only after it was
acknowledged, so to ask "has anyone acknowledged it yet?" use :data:`AWAITING_ACK`."""

AWAITING_ACK: tuple[TaskState, ...] = (TaskState.DISPATCHED, TaskState.ESCALATED)
"""States of a task nobody has acknowledged yet (what the board and ``status`` chase)."""

ANSWERS: dict[str, TaskState] = {
    "acknowledge": TaskState.ACKNOWLEDGED,
    "progress": TaskState.IN_PROGRESS,
    "complete": TaskState.COMPLETED,
    "decline": TaskState.DECLINED,
}
"""What each kind of agency answer makes of a task."""

CLOSED_STATES: tuple[TaskState, ...] = tuple(s for s in TaskState if s not in OPEN_STATES)

DISPATCH_MARK = "~"
"""Separates a plan task id from the dispatch number in the id of a re-dispatched task."""


def task_key(response_id: str, plan_task_id: str, dispatch: int = 1) -> str:
    """The global id of one dispatch of a plan task: unique, stable across retries and restarts.

    The first dispatch is ``<response id>/<plan task id>``; a plan task dispatched again in the
    same response (after a stand-down, a completion or a decline, when the weather brings it
    back) gets ``~2``, ``~3``, ... so each dispatch is a task of its own. The first form is the
    one every earlier release used, so recorded histories and rows keep their ids.
    """
    if dispatch < 1:
        raise ValueError(f"dispatch numbers start at 1, not {dispatch}")
    base = f"{response_id}/{plan_task_id}"
    return base if dispatch == 1 else f"{base}{DISPATCH_MARK}{dispatch}"


def task_workflow_id(task_id: str) -> str:
    """The id of the workflow that tracks the task ``task_id``."""
    return f"task:{task_id}"


def scaled(minutes: float, time_scale: float = 1.0) -> timedelta:
    """A plan duration on the response's clock: drills divide every duration by their speed."""
    return timedelta(minutes=minutes) / time_scale


def deadline(issued_at: datetime, deadline_minutes: int, time_scale: float = 1.0) -> datetime:
    """When a task issued at ``issued_at`` must be done, on the response's clock."""
    return issued_at + scaled(deadline_minutes, time_scale)
