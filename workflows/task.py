"""TaskWorkflow: one agency task from dispatch to completion, chasing it when nobody answers.

The response workflow has already recorded and published the task when this starts; this
workflow owns what happens next: wait for the agency's acknowledgement, run the plan's
escalation chain (reminder, supervision notice to the district HQ, warning notice to the city
HQ: 三单联动) while it stays unacknowledged, then wait for completion, a decline or a
stand-down. Every transition is recorded and reported to the parent response.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.calls import call

with workflow.unsafe.imports_passed_through():
    import plans.model  # noqa: F401 - registers the module the converter resolves Task in
    from activities.messaging import MessagingActivities, PublishEscalationInput
    from activities.records import (
        RecordActivities,
        RecordEscalationInput,
        TaskTransitionInput,
    )
    from plans.lifecycle import ANSWERS, UNANSWERED_STATES, TaskState, deadline, scaled
    from workflows.types import OPEN_STATES, AgencyEvent, TaskChange, TaskInput, TaskResult


@workflow.defn
class TaskWorkflow:
    """Durable lifecycle of one task."""

    def __init__(self) -> None:
        self._state: str = TaskState.DISPATCHED
        self._seq = 0
        self._events: list[AgencyEvent] = []
        self._stand_down = False
        self._result: TaskResult | None = None

    @workflow.run
    async def run(self, inp: TaskInput) -> TaskResult:
        """Acknowledge-or-escalate, then wait for the task to close."""
        self._result = TaskResult(task_id=inp.task_id, state=self._state)
        await self._await_acknowledgement(inp)
        await self._await_closure(inp)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._result.state = self._state
        self._result.closed_at = workflow.now()
        return self._result

    @workflow.signal
    def agency_event(self, event: AgencyEvent) -> None:
        """Queue an agency's acknowledgement, progress, completion or decline."""
        self._events.append(event)

    @workflow.signal
    def stand_down(self) -> None:
        """The response no longer needs this task (downgrade or cancellation)."""
        self._stand_down = True

    @workflow.query
    def state(self) -> str:
        """The task's current state."""
        return self._state

    def _acknowledged(self) -> bool:
        return self._state not in UNANSWERED_STATES

    async def _await_acknowledgement(self, inp: TaskInput) -> None:
        """Wait for an answer; at each escalation step still unanswered, chase someone."""
        for index, step in enumerate(inp.task.escalation):
            due = inp.issued_at + self._scaled(inp, step.after_minutes)
            if await self._handle_until(inp, due, self._acknowledged):
                return
            await self._escalate(inp, index)
        await self._handle_until(inp, None, self._acknowledged)

    async def _await_closure(self, inp: TaskInput) -> None:
        """Wait for completion, decline or stand-down, flagging a missed deadline once."""
        due = deadline(inp.issued_at, inp.task.deadline_minutes, inp.time_scale)
        if not await self._handle_until(inp, due, self._closed):
            await self._transition(inp, TaskState.OVERDUE, "deadline_missed")
        await self._handle_until(inp, None, self._closed)

    def _closed(self) -> bool:
        return self._state not in OPEN_STATES

    async def _handle_until(
        self, inp: TaskInput, until: datetime | None, done: Callable[[], bool]
    ) -> bool:
        """Process messages until ``done()`` holds (True) or ``until`` passes (False)."""
        while not done():
            timeout = None if until is None else until - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                return False
            try:
                await workflow.wait_condition(
                    lambda: bool(self._events) or self._stand_down, timeout=timeout
                )
            except TimeoutError:
                return done()
            await self._apply_messages(inp)
        return True

    async def _apply_messages(self, inp: TaskInput) -> None:
        if self._stand_down and not self._closed():
            await self._transition(inp, TaskState.STOOD_DOWN, "stood_down")
        while self._events:
            event = self._events.pop(0)
            if self._closed():
                continue
            state = ANSWERS.get(event.kind)
            if state is None or (state is TaskState.ACKNOWLEDGED and self._acknowledged()):
                continue
            await self._transition(inp, state, event.kind, by=event.by, note=event.note)

    async def _escalate(self, inp: TaskInput, index: int) -> None:
        """Send and record one escalation step (both idempotent on task id + step)."""
        step = inp.task.escalation[index]
        now = workflow.now()
        await call(
            MessagingActivities.publish_escalation,
            PublishEscalationInput(
                inp.response_id, inp.task_id, inp.drill, inp.plan_hash, inp.task, index, step, now
            ),
        )
        await call(
            RecordActivities.record_escalation,
            RecordEscalationInput(inp.task_id, inp.response_id, index, step.kind, step.to, now),
        )
        assert self._result is not None
        self._result.escalations += 1
        await self._transition(inp, TaskState.ESCALATED, f"escalation_{step.kind}", to=step.to)

    async def _transition(self, inp: TaskInput, state: TaskState, kind: str, **detail: str) -> None:
        """Record a state change, then tell the parent response."""
        self._seq += 1
        self._state = state
        assert self._result is not None
        self._result.history.append(kind)
        if state is TaskState.ACKNOWLEDGED:
            self._result.acknowledged_at = workflow.now()
        await call(
            RecordActivities.record_task_transition,
            TaskTransitionInput(inp.task_id, self._seq, state, kind, workflow.now(), dict(detail)),
        )
        parent = workflow.get_external_workflow_handle(inp.parent_workflow_id)
        try:
            await parent.signal("task_changed", TaskChange(inp.task_id, inp.task.id, state))
        except Exception:  # a finished parent needs no report; the DB has it
            workflow.logger.info("parent %s did not take the report", inp.parent_workflow_id)

    @staticmethod
    def _scaled(inp: TaskInput, minutes: int) -> timedelta:
        return scaled(minutes, inp.time_scale)
