"""ResponseWorkflow: one region's (or one drill's) response to the warnings in force.

It keeps the warnings, asks ``plans`` for the response level and the tasks, dispatches what is
new without asking anyone (不用请示), stands down what the plan says, and completes with a
summary once every warning is gone and every task is closed. Decisions all come from
``plans.rules`` and ``plans.ledger``; this module only orchestrates.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.calls import call

with workflow.unsafe.imports_passed_through():
    from activities.messaging import (
        MessagingActivities,
        PublishNoticesInput,
        PublishStandDownInput,
        PublishTasksInput,
    )
    from activities.records import (
        PLAN_UNKNOWN,
        RecordActivities,
        RecordHqDecisionInput,
        RecordLevelsInput,
        RecordResponseInput,
        RecordTasksInput,
        RecordWarningInput,
    )
    from activities.tracking import StartTrackingInput, TrackingActivities
    from plans import engine
    from plans.hq import HqDecision
    from plans.ledger import Outcome
    from plans.lifecycle import TaskState, task_key, task_workflow_id
    from plans.model import Notice, Plan, ResponseLevel, Task
    from plans.warning import Alert
    from workflows import legacy
    from workflows.search import HAZARDS, REGION, RESPONSE_LEVEL
    from workflows.task import TaskWorkflow
    from workflows.types import (
        ResponseInput,
        ResponseState,
        ResponseStatus,
        ResponseSummary,
        TaskChange,
    )

TRACKING_BY_ACTIVITY = "tracking-by-activity"
"""Patch: task workflows started by an activity (not as children) and plan tasks dispatched
again after they closed. Responses of earlier releases take the old path on replay."""


@workflow.defn
class ResponseWorkflow:
    """Durable orchestration of one response."""

    def __init__(self) -> None:
        self._inp: ResponseInput | None = None
        self._s = ResponseState()

    @workflow.run
    async def run(self, inp: ResponseInput) -> ResponseSummary:
        """Apply warnings as they come until the response is over."""
        self._inp = inp
        if inp.state is None:
            info = workflow.info()
            self._s.response_id = f"{info.workflow_id}-{info.first_execution_run_id[:8]}"
            await self._record_start()
        else:
            self._s = inp.state
        while not self._over():
            await self._wait_for_work()
            engine.expire(self._s.ledger, workflow.now())
            replan = self._s.replan
            if replan:
                await self._record_start()
            await self._apply_inbox()
            if replan:
                self._s.replan = False
            if self._should_continue_as_new():
                await self._continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._record_levels("closed")
        return self._summary()

    @workflow.signal
    def receive_alert(self, alert: Alert) -> None:
        """Queue a warning (issue, update or cancel) for the main loop."""
        self._s.warnings_received += 1
        self._s.inbox.append(alert)

    @workflow.signal
    def receive_hq(self, decision: HqDecision) -> None:
        """Queue an HQ decision (start, raise, lower, hold, end, withdraw) for the main loop."""
        self._s.hq_received += 1
        self._s.hq_inbox.append(decision)

    @workflow.signal
    def task_changed(self, change: TaskChange) -> None:
        """A task workflow reports a new state."""
        view = self._s.tasks.get(change.plan_task_id)
        if view is not None and view.task_id == change.task_id:  # not an earlier dispatch
            view.state = change.state

    @workflow.update
    async def apply_plan(self, plan: Plan) -> str:
        """Switch this response to another version of its plan; the main loop re-decides.

        The handler only swaps the plan and waits: re-deciding happens in the main loop, so
        two reconciliations never interleave.
        """
        assert self._inp is not None
        self._inp = ResponseInput(**{**vars(self._inp), "plan": plan})
        self._s.replan = True
        await workflow.wait_condition(lambda: not self._s.replan)
        return plan.version

    @apply_plan.validator
    def _validate_plan(self, plan: Plan) -> None:
        assert self._inp is not None
        if plan.plan_id != self._inp.plan.plan_id:
            raise ApplicationError(f"plan {plan.plan_id!r} is not this response's plan")
        if plan.content_hash == self._inp.plan.content_hash:
            raise ApplicationError(f"plan version {plan.version} is already in use")

    @workflow.query
    def status(self) -> ResponseStatus:
        """Levels per area, the warnings in force and every task's state."""
        assert self._inp is not None
        response = self._s.response
        return ResponseStatus(
            response_id=self._s.response_id,
            plan_version=self._inp.plan.version,
            levels={a: str(lv) for a, lv in (response.levels if response else {}).items()},
            active_warnings=[w.id for w in self._s.ledger.active_alerts()],
            tasks=list(self._s.tasks.values()),
            automatic={a: str(lv) for a, lv in (response.automatic if response else {}).items()},
            declarations=[d.id for d in self._s.hq.active()],
        )

    # --- steps -----------------------------------------------------------------------------

    async def _record_start(self) -> None:
        """Record the response and its plan, by hash; the whole plan only if nobody knows it."""
        inp = self._inputs()
        plan = inp.plan
        record = RecordResponseInput(
            self._s.response_id,
            inp.region,
            inp.drill,
            plan.plan_id,
            plan.version,
            plan.content_hash,
            workflow.now(),
        )
        try:
            await call(RecordActivities.record_response, record)
        except ActivityError as err:
            cause = err.cause
            if not (isinstance(cause, ApplicationError) and cause.type == PLAN_UNKNOWN):
                raise
            await call(RecordActivities.record_response, dataclasses.replace(record, plan=plan))

    async def _wait_for_work(self) -> None:
        """Sleep until a warning arrives, a task closes, or the next warning expires."""
        closed_before = self._s.open_tasks()
        until = self._s.ledger.next_expiry()
        timeout = None if until is None else max(until - workflow.now(), timedelta(seconds=1))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (
                    bool(self._s.inbox)
                    or bool(self._s.hq_inbox)
                    or self._s.replan
                    or self._s.open_tasks() != closed_before
                    or self._over()
                ),
                timeout=timeout,
            )

    async def _apply_inbox(self) -> None:
        """Run each queued warning through the ledger, then re-decide the response once."""
        now = workflow.now()
        while self._s.inbox:
            alert = self._s.inbox.pop(0)
            self._s.applied_this_run += 1
            for decided in engine.receive(self._s.ledger, alert, now, patched=workflow.patched):
                await self._record_outcome(decided.outcome, arrival=decided.on_arrival)
        for orphan in engine.orphan_held(self._s.ledger, now):
            workflow.logger.warning("held message %s orphaned: %s", orphan.alert_id, orphan.reason)
            await self._record_outcome(orphan, arrival=False)
        while self._s.hq_inbox:
            decision = self._s.hq_inbox.pop(0)
            self._s.applied_this_run += 1
            result = self._s.hq.accept(decision)
            await call(
                RecordActivities.record_hq_decision,
                RecordHqDecisionInput(
                    self._s.response_id,
                    decision,
                    str(result.outcome),
                    result.reason,
                    workflow.now(),
                ),
            )
        await self._reconcile()

    async def _record_outcome(self, outcome: Outcome, *, arrival: bool) -> None:
        """Record a decision on a message, on its arrival or later (released or orphaned)."""
        if outcome.alert is not None:
            await self._record_warning(outcome.alert, outcome, arrival=arrival)

    async def _record_warning(self, alert: Alert, outcome: Outcome, *, arrival: bool) -> None:
        await call(
            RecordActivities.record_warning,
            RecordWarningInput(
                self._s.response_id,
                alert.id,
                str(alert.kind),
                str(alert.hazard),
                str(alert.level),
                alert.areas,
                str(alert.status),
                str(outcome.decision),
                alert.sent,
                alert.headline,
                workflow.now(),
                outcome.reason,
                alert.references,
                self._s.ledger.index.get(alert.id, ""),
                arrival,
            ),
        )

    async def _reconcile(self) -> None:
        """Bring dispatched tasks in line with what the plan says for the warnings in force."""
        inp = self._inputs()
        self._s.response, change = engine.decide(
            self._s.ledger, inp.plan, self._s.response, self._s.hq
        )
        if not change.is_empty:
            await self._record_levels("active")
        if change.dispatch:
            await self._dispatch(change.dispatch)
        if change.stand_down:
            await self._stand_down(change.stand_down)
        if change.notices:
            await self._publish_notices(change.notices)

    async def _dispatch(self, tasks: tuple[Task, ...]) -> None:
        """Record, then publish and track each task due again; nobody is asked for approval.

        A plan task whose last dispatch is closed (stood down, done, declined) is dispatched
        anew, under a new id, when the weather brings it back.
        """
        if not workflow.patched(TRACKING_BY_ACTIVITY):
            await legacy.dispatch_as_children(self._s, self._inputs(), tasks)
            return
        inp = self._inputs()
        fresh = tuple(t for t in tasks if not self._s.is_open(t.id))
        if not fresh:
            return
        now = workflow.now()
        numbers = tuple(self._s.next_dispatch(t.id) for t in fresh)
        ids = tuple(
            task_key(self._s.response_id, t.id, n) for t, n in zip(fresh, numbers, strict=True)
        )
        await call(
            RecordActivities.record_tasks,
            RecordTasksInput(
                self._s.response_id,
                inp.drill,
                inp.plan.version,
                fresh,
                now,
                numbers,
                workflow.info().workflow_id,
                inp.plan.content_hash,
                inp.time_scale,
            ),
        )
        for task, number, task_id in zip(fresh, numbers, ids, strict=True):
            self._s.remember(task, number, task_id)
        # The rows exist: messages and tracking go out together. An agency that answers before
        # its task's workflow runs starts that workflow itself, from the same row.
        await asyncio.gather(
            call(
                MessagingActivities.publish_tasks,
                PublishTasksInput(
                    self._s.response_id,
                    inp.drill,
                    inp.plan.content_hash,
                    fresh,
                    now,
                    numbers,
                    inp.time_scale,
                ),
            ),
            call(TrackingActivities.start_tracking, StartTrackingInput(ids)),
        )

    async def _stand_down(self, tasks: tuple[Task, ...]) -> None:
        """Tell agencies and their task workflows that these tasks are no longer needed."""
        inp = self._inputs()
        open_tasks = tuple(t for t in tasks if self._s.is_open(t.id))
        if not open_tasks:
            return
        ids = tuple(self._s.tasks[t.id].task_id for t in open_tasks)
        await call(
            MessagingActivities.publish_stand_down,
            PublishStandDownInput(
                self._s.response_id,
                inp.drill,
                inp.plan.content_hash,
                open_tasks,
                workflow.now(),
                ids,
            ),
        )
        await asyncio.gather(*(self._signal_stand_down(task_id) for task_id in ids))
        if workflow.patched(TRACKING_BY_ACTIVITY):
            # Decided here, so closed here: a re-raise right after must dispatch anew, not wait
            # for the task workflows' reports (earlier releases waited; they replay unchanged).
            for task in open_tasks:
                self._s.tasks[task.id].state = TaskState.STOOD_DOWN

    @staticmethod
    async def _signal_stand_down(task_id: str) -> None:
        handle = workflow.get_external_workflow_handle(task_workflow_id(task_id))
        try:
            await handle.signal(TaskWorkflow.stand_down)
        except Exception:  # closed meanwhile (completed, declined): nothing to stand down
            workflow.logger.info("task %s had closed before its stand-down", task_id)

    async def _publish_notices(self, notices: tuple[Notice, ...]) -> None:
        inp = self._inputs()
        await call(
            MessagingActivities.publish_notices,
            PublishNoticesInput(
                self._s.response_id,
                inp.drill,
                inp.plan.content_hash,
                notices,
                workflow.now(),
            ),
        )

    async def _record_levels(self, status: str) -> None:
        self._s.changes += 1
        levels = self._s.response.levels if self._s.response else {}
        detail: dict[str, object] = {"open_tasks": self._s.open_tasks()}
        if self._s.response is not None and self._s.hq.active():  # automatic may be {}
            detail["automatic"] = {a: str(lv) for a, lv in self._s.response.automatic.items()}
            detail["declarations"] = [d.id for d in self._s.hq.active()]
        await call(
            RecordActivities.record_levels,
            RecordLevelsInput(
                self._s.response_id,
                {area: str(level) for area, level in levels.items()},
                status,
                f"{self._s.response_id}:levels:{self._s.changes}",
                workflow.now(),
                detail,
            ),
        )
        self._show_in_visibility(levels)

    def _show_in_visibility(self, levels: dict[str, ResponseLevel]) -> None:
        """Keep the highest level and the hazards in force searchable in the Web UI.

        Only where the starter set ``TidegateRegion``: that is the sign the namespace has
        tidegate's search attributes (an unregistered one would fail the workflow task).
        """
        if workflow.info().typed_search_attributes.get(REGION) is None:
            return
        highest = max(levels.values(), key=lambda level: level.rank, default=None)
        hazards = sorted({str(w.hazard) for w in self._s.ledger.active()})
        workflow.upsert_search_attributes(
            [
                RESPONSE_LEVEL.value_set(str(highest) if highest else "none"),
                HAZARDS.value_set(hazards),
            ]
        )

    def _should_continue_as_new(self) -> bool:
        """When the server suggests it, or after ``continue_every`` warnings in this run."""
        return (
            workflow.info().is_continue_as_new_suggested()
            or self._s.applied_this_run >= self._inputs().continue_every
        )

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._s.applied_this_run = 0
        inp = self._inputs()
        workflow.continue_as_new(ResponseInput(**{**vars(inp), "state": self._s}))

    # --- derived facts ---------------------------------------------------------------------

    def _inputs(self) -> ResponseInput:
        assert self._inp is not None
        return self._inp

    def _over(self) -> bool:
        """Over once something happened, no warning or HQ declaration is in force and no task
        is open."""
        return (
            self._s.warnings_received + self._s.hq_received > 0
            and not self._s.inbox
            and not self._s.hq_inbox
            and not self._s.hq.active()
            and not self._s.ledger.active()
            and not self._s.ledger.held_alerts()
            and self._s.open_tasks() == 0
        )

    def _summary(self) -> ResponseSummary:
        inp = self._inputs()
        states = self._s.task_states()
        return ResponseSummary(
            self._s.response_id,
            inp.plan.version,
            self._s.warnings_received,
            sum(states.values()),
            states,
        )
