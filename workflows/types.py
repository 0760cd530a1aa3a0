"""Inputs, results, signals and state of the workflows.

They live outside the workflow modules because a dataclass defined inside the sandbox sees the
sandbox's proxied ``datetime`` class, which the data converter cannot decode into; imported
through ``imports_passed_through`` they are ordinary classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.common.v1 import Payload

from plans.hq import HqDecision, HqLedger
from plans.ledger import AlertLedger
from plans.lifecycle import OPEN_STATES, TaskState
from plans.model import Plan, Response, Task
from plans.warning import Alert
from workflows.converter import DATA_CONVERTER

__all__ = ["OPEN_STATES"]  # re-exported for modules that read task states with the types


@dataclass(frozen=True)
class TaskInput:
    """What the response hands to a task: the plan's task and where to report."""

    task_id: str
    response_id: str
    parent_workflow_id: str
    task: Task
    plan_hash: str
    drill: bool
    issued_at: datetime
    time_scale: float = 1.0
    """Divides every plan duration: drills replay a storm faster than real time."""


@dataclass(frozen=True)
class Tracking:
    """How to start a task's workflow: kept in the task's row, so every starter agrees."""

    task_queue: str
    input: TaskInput

    def encode(self) -> str:
        """JSON exactly as the data converter writes it (histories show the same input)."""
        payload = DATA_CONVERTER.payload_converter.to_payload(self)
        return payload.data.decode()

    @staticmethod
    def decode(text: str) -> Tracking:
        """The inverse of :meth:`encode`."""
        payload = Payload(metadata={"encoding": b"json/plain"}, data=text.encode())
        value = DATA_CONVERTER.payload_converter.from_payload(payload, Tracking)
        assert isinstance(value, Tracking)
        return value


@dataclass(frozen=True)
class AgencyEvent:
    """An agency's answer: ``acknowledge``, ``progress``, ``complete`` or ``decline``."""

    kind: str
    by: str = ""
    note: str = ""


@dataclass(frozen=True)
class TaskChange:
    """Sent to the parent response whenever a task changes state."""

    task_id: str
    plan_task_id: str
    state: str


@dataclass
class TaskResult:
    """How the task ended."""

    task_id: str
    state: str
    escalations: int = 0
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    history: list[str] = field(default_factory=list)


@dataclass
class TaskView:
    """What the response knows of one of its tasks."""

    task_id: str
    agency: str
    action_id: str
    area: str
    asset: str | None
    state: str


@dataclass
class ResponseState:
    """Everything carried across continue-as-new."""

    response_id: str = ""
    """Unique per response (workflow id plus first run id), so a later response in the same
    region never collides with this one's task ids or database rows."""
    ledger: AlertLedger = field(default_factory=AlertLedger)
    response: Response | None = None
    tasks: dict[str, TaskView] = field(default_factory=dict)
    """Plan task id to the view of its latest dispatch, in dispatch order."""
    dispatches: dict[str, int] = field(default_factory=dict)
    """Plan task id to the number of its latest dispatch, for plan tasks dispatched twice or
    more (absent means at most once: the dict stays small and old states stay valid)."""
    hq: HqLedger = field(default_factory=HqLedger)
    """The HQ's declarations received and in force (``plans.hq``)."""
    hq_inbox: list[HqDecision] = field(default_factory=list)
    hq_received: int = 0
    replaced: dict[str, int] = field(default_factory=dict)
    """Final state to count of earlier dispatches replaced by a re-dispatch, for the summary."""
    inbox: list[Alert] = field(default_factory=list)
    changes: int = 0
    warnings_received: int = 0
    applied_this_run: int = 0
    replan: bool = False
    """A new plan was applied and the tasks must be re-decided."""

    def is_open(self, plan_task_id: str) -> bool:
        """Whether the plan task's latest dispatch still needs someone."""
        view = self.tasks.get(plan_task_id)
        return view is not None and view.state in OPEN_STATES

    def open_tasks(self) -> int:
        """How many dispatches still need someone."""
        return sum(1 for view in self.tasks.values() if view.state in OPEN_STATES)

    def next_dispatch(self, plan_task_id: str) -> int:
        """The number the plan task's next dispatch gets (``plans.lifecycle.task_key``)."""
        if plan_task_id not in self.tasks:
            return 1
        return self.dispatches.get(plan_task_id, 1) + 1

    def remember(self, task: Task, number: int, task_id: str) -> None:
        """The new dispatch becomes the task's current view; the old one is only counted."""
        earlier = self.tasks.pop(task.id, None)
        if earlier is not None:
            self.replaced[earlier.state] = self.replaced.get(earlier.state, 0) + 1
        if number > 1:
            self.dispatches[task.id] = number
        self.tasks[task.id] = TaskView(
            task_id, task.agency, task.action_id, task.area, task.asset, TaskState.DISPATCHED
        )

    def task_states(self) -> dict[str, int]:
        """Dispatches by state, earlier ones included, for the summary."""
        states = dict(self.replaced)
        for view in self.tasks.values():
            states[view.state] = states.get(view.state, 0) + 1
        return states


@dataclass(frozen=True)
class ResponseInput:
    """Start (or continue) a response; ``plan`` is pinned for the response's lifetime."""

    region: str
    plan: Plan
    drill: bool = False
    time_scale: float = 1.0
    continue_every: int = 200
    """Continue as new after this many warnings in one run, whatever the server suggests:
    every warning re-sends up to hundreds of task inputs, so history grows fast in a storm."""
    state: ResponseState | None = None


@dataclass
class ResponseStatus:
    """Answer to the ``status`` query."""

    response_id: str
    plan_version: str
    levels: dict[str, str]
    active_warnings: list[str]
    tasks: list[TaskView]
    automatic: dict[str, str] = field(default_factory=dict)
    """What the signals alone give, while an HQ declaration is in force (else empty)."""
    declarations: list[str] = field(default_factory=list)
    """Ids of the HQ declarations in force."""


@dataclass
class ResponseSummary:
    """The workflow's result once the response is over."""

    response_id: str
    plan_version: str
    warnings_received: int
    tasks: int
    states: dict[str, int]
