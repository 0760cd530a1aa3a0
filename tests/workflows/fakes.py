"""Activity stand-ins for workflow tests: same names as the real ones, recording their input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.messaging import (
    PublishEscalationInput,
    PublishNoticesInput,
    PublishStandDownInput,
    PublishTasksInput,
)
from activities.records import (
    PLAN_UNKNOWN,
    RecordEscalationInput,
    RecordHqDecisionInput,
    RecordLevelsInput,
    RecordResponseInput,
    RecordTasksInput,
    RecordWarningInput,
    TaskTransitionInput,
    tracking_for,
)
from activities.tracking import StartTrackingInput
from workflows import tracking
from workflows.types import Tracking

STEP = timedelta(minutes=5)


@dataclass
class Calls:
    """Everything the fake activities were asked to do, by activity name."""

    log: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        self.log.setdefault(name, []).append(value)

    def of(self, name: str) -> list[Any]:
        return self.log.get(name, [])


def fake_activities(
    calls: Calls, client: Client, *, known_plans: tuple[str, ...] | None = None
) -> list[Callable[..., Any]]:
    """Fakes for every activity the workflows call.

    Task workflows are real, so ``start_tracking`` really starts them (with ``client``), from
    the tracking inputs ``record_tasks`` would have written to the rows. With ``known_plans``,
    ``record_response`` refuses a plan by hash that is not among them, as the real one does
    when neither the worker nor the database knows it.
    """
    rows: dict[str, Tracking] = {}

    @activity.defn(name="record_response")
    async def record_response(inp: RecordResponseInput) -> None:
        calls.add("record_response", inp)
        if known_plans is not None and inp.plan is None and inp.plan_hash not in known_plans:
            raise ApplicationError("plan not recorded", type=PLAN_UNKNOWN, non_retryable=True)

    @activity.defn(name="record_levels")
    async def record_levels(inp: RecordLevelsInput) -> None:
        calls.add("record_levels", inp)

    @activity.defn(name="record_warning")
    async def record_warning(inp: RecordWarningInput) -> None:
        calls.add("record_warning", inp)

    @activity.defn(name="record_hq_decision")
    async def record_hq_decision(inp: RecordHqDecisionInput) -> None:
        calls.add("record_hq_decision", inp)

    @activity.defn(name="record_tasks")
    async def record_tasks(inp: RecordTasksInput) -> None:
        calls.add("record_tasks", inp)
        numbers = inp.dispatches or (1,) * len(inp.tasks)
        for task, number in zip(inp.tasks, numbers, strict=True):
            tracked = tracking_for(inp, task, number, activity.info().task_queue)
            if tracked is not None:
                rows[tracked.input.task_id] = tracked

    @activity.defn(name="start_tracking")
    async def start_tracking(inp: StartTrackingInput) -> int:
        calls.add("start_tracking", inp)
        started = [await tracking.start(client, rows[task_id]) for task_id in inp.task_ids]
        return sum(started)

    @activity.defn(name="record_task_transition")
    async def record_task_transition(inp: TaskTransitionInput) -> None:
        calls.add("record_task_transition", inp)

    @activity.defn(name="record_escalation")
    async def record_escalation(inp: RecordEscalationInput) -> None:
        calls.add("record_escalation", inp)

    @activity.defn(name="publish_tasks")
    async def publish_tasks(inp: PublishTasksInput) -> int:
        calls.add("publish_tasks", inp)
        return len(inp.tasks)

    @activity.defn(name="publish_stand_down")
    async def publish_stand_down(inp: PublishStandDownInput) -> None:
        calls.add("publish_stand_down", inp)

    @activity.defn(name="publish_escalation")
    async def publish_escalation(inp: PublishEscalationInput) -> None:
        calls.add("publish_escalation", inp)

    @activity.defn(name="publish_notices")
    async def publish_notices(inp: PublishNoticesInput) -> None:
        calls.add("publish_notices", inp)

    return [
        record_response,
        record_levels,
        record_warning,
        record_hq_decision,
        record_tasks,
        record_task_transition,
        record_escalation,
        publish_tasks,
        publish_stand_down,
        publish_escalation,
        publish_notices,
        start_tracking,
    ]


async def advance(env: WorkflowEnvironment, total: timedelta, step: timedelta = STEP) -> None:
    """Skip ``total`` of workflow time in steps.

    One long ``env.sleep`` is a single RPC that must outlast every timer that fires on the
    way and every workflow task they wake; on a loaded machine that RPC can time out. Short
    steps keep each call small.
    """
    remaining = total
    while remaining > timedelta(0):
        chunk = min(step, remaining)
        await env.sleep(chunk)
        remaining -= chunk
