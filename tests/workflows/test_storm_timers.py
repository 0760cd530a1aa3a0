"""Escalation timers through hours of storm, on the time-skipping server (seconds of real time).

The real plan, the real workflows, fake activities that record what they were asked. Every
escalation must fire when the plan says (issued at + the step's minutes, divided by the drill
time scale; never early, late by under half a plan minute), exactly once, for every task nobody
acknowledged in time, and never after an acknowledgement.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from plans.lifecycle import task_workflow_id
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level, Task
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from tests.workflows.fakes import Calls, fake_activities
from workflows.response import ResponseWorkflow
from workflows.task import TaskWorkflow
from workflows.types import AgencyEvent, ResponseInput, ResponseSummary

PLAN = load_plan()


def _alert(alert_id: str, sent: datetime, level: Level, kind: Kind, refs: tuple[str, ...]) -> Alert:
    return Alert(
        id=alert_id,
        sender="test",
        sent=sent,
        status=Status.ACTUAL,
        kind=kind,
        references=refs,
        hazard=Hazard.RAINSTORM,
        level=level,
        areas=("pudong",),
    )


def _tasks(level: Level) -> dict[str, Task]:
    warning = ActiveWarning(Hazard.RAINSTORM, level, ("pudong",))
    return {t.id: t for t in respond([warning], PLAN).tasks}


@contextlib.asynccontextmanager
async def _response(
    env: WorkflowEnvironment, calls: Calls, time_scale: float
) -> AsyncIterator[tuple[Worker, str]]:
    async with Worker(
        env.client,
        task_queue=f"tq-{uuid.uuid4()}",
        workflows=[ResponseWorkflow, TaskWorkflow],
        activities=fake_activities(calls, env.client),
    ) as worker:
        workflow_id = f"response-storm-{worker.task_queue}"
        try:
            yield worker, workflow_id
        finally:  # the test server's clock is shared: leave no timers behind
            handle = env.client.get_workflow_handle(workflow_id)
            with contextlib.suppress(RPCError):
                status = await handle.query(ResponseWorkflow.status)
                for view in status.tasks:
                    with contextlib.suppress(RPCError):
                        await env.client.get_workflow_handle(
                            task_workflow_id(view.task_id)
                        ).terminate()
            with contextlib.suppress(RPCError):
                await handle.terminate()


async def _send(
    env: WorkflowEnvironment, worker: Worker, workflow_id: str, alert: Alert, time_scale: float
) -> WorkflowHandle[ResponseWorkflow, ResponseSummary]:
    return await env.client.start_workflow(
        ResponseWorkflow.run,
        ResponseInput(region="storm", plan=PLAN, time_scale=time_scale),
        id=workflow_id,
        task_queue=worker.task_queue,
        start_signal="receive_alert",
        start_signal_args=[alert],
    )


@pytest.mark.parametrize("time_scale", [1.0, 60.0], ids=["live", "drill-60x"])
async def test_six_hours_of_storm_escalate_exactly_on_the_plan_minutes(
    time_skipping_env: WorkflowEnvironment, time_scale: float
) -> None:
    env = time_skipping_env
    calls = Calls()
    scale = timedelta(minutes=1) / time_scale
    async with _response(env, calls, time_scale) as (worker, workflow_id):
        start = await env.get_current_time()
        handle = await _send(
            env, worker, workflow_id, _alert("b1", start, Level.BLUE, Kind.ALERT, ()), time_scale
        )
        blue = _tasks(Level.BLUE)

        async def dispatched(count: int) -> list[str]:
            for _ in range(200):
                views = (await handle.query(ResponseWorkflow.status)).tasks
                if len(views) >= count:
                    return [v.task_id for v in views]
                await env.sleep(timedelta(seconds=1) / time_scale)
            raise AssertionError(f"fewer than {count} tasks dispatched")

        first = await dispatched(len(blue))
        # Twenty plan minutes in, every other task is acknowledged: after its first reminder
        # (15 min or less), before its supervision notice (30 min or more).
        await env.sleep(20 * scale)
        acknowledged = set(first[::2])
        for task_id in acknowledged:
            await env.client.get_workflow_handle(task_workflow_id(task_id)).signal(
                TaskWorkflow.agency_event, AgencyEvent("acknowledge", by="crew")
            )
        # Two hours in, the warning goes orange: more tasks, with chains of their own.
        await env.sleep(100 * scale)
        upgrade = _alert("o1", start + timedelta(hours=2), Level.ORANGE, Kind.UPDATE, ("b1",))
        await _send(env, worker, workflow_id, upgrade, time_scale)
        orange = _tasks(Level.ORANGE)
        await dispatched(len(orange))
        await env.sleep(240 * scale)

        issued = {t.id: inp.issued_at for inp in calls.of("record_tasks") for t in inp.tasks}
        acked_at = start + 20 * scale
        fired: dict[tuple[str, int], datetime] = {}
        for esc in calls.of("publish_escalation"):
            assert (esc.task.id, esc.step_index) not in fired, "an escalation fired twice"
            fired[(esc.task.id, esc.step_index)] = esc.at
        expected: dict[tuple[str, int], datetime] = {}
        for task_id, task in orange.items():
            acked = f"{first[0].split('/', 1)[0]}/{task_id}" in acknowledged
            for index, step in enumerate(task.escalation):
                due = issued[task_id] + step.after_minutes * scale
                if not acked or due <= acked_at:
                    expected[(task_id, index)] = due
        assert fired.keys() == expected.keys()
        # "Exactly" within half a plan minute: the test server's clock moves on in real time
        # between a timer firing and the workflow task that records it (tens of ms).
        for key, due in expected.items():
            assert timedelta(0) <= fired[key] - due < scale / 2, (key, fired[key], due)
        assert len({issued[t] for t in blue}) == 1 and len(set(issued.values())) == 2
        assert min(issued[t] for t in orange if t not in blue) >= start + 120 * scale
