"""TaskWorkflow on the time-skipping test server: hours of waiting in milliseconds."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from plans.model import EscalationStep, Hazard, ResponseLevel, StandDown, Task
from tests.workflows.fakes import Calls, advance, fake_activities
from workflows.task import TaskWorkflow
from workflows.types import AgencyEvent, TaskInput, TaskResult

TASK = Task(
    id="drainage.prelower@pudong",
    action_id="drainage.prelower",
    agency="drainage",
    area="pudong",
    asset=None,
    hazard=Hazard.RAINSTORM,
    response_level=ResponseLevel.IV,
    deadline_minutes=120,
    ack_timeout_minutes=15,
    escalation=(
        EscalationStep(after_minutes=15, kind="reminder", to="agency"),
        EscalationStep(after_minutes=30, kind="supervision", to="district_hq"),
        EscalationStep(after_minutes=60, kind="warning", to="city_hq"),
    ),
    on_stand_down=StandDown.STAND_DOWN,
)


async def _start(
    env: WorkflowEnvironment, worker: Worker
) -> WorkflowHandle[TaskWorkflow, TaskResult]:
    now = await env.get_current_time()
    task_id = f"resp-1/{TASK.id}"
    return await env.client.start_workflow(
        TaskWorkflow.run,
        TaskInput(task_id, "resp-1", "no-such-parent", TASK, "hash", False, now),
        id=f"task:{task_id}:{uuid.uuid4()}",
        task_queue=worker.task_queue,
    )


def _worker(env: WorkflowEnvironment, calls: Calls) -> Worker:
    return Worker(
        env.client,
        task_queue=f"tq-{uuid.uuid4()}",
        workflows=[TaskWorkflow],
        activities=fake_activities(calls, env.client),
    )


async def test_unacknowledged_task_runs_the_whole_escalation_chain(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    async with _worker(time_skipping_env, calls) as worker:
        handle = await _start(time_skipping_env, worker)
        await advance(time_skipping_env, timedelta(minutes=61))
        assert [e.step.kind for e in calls.of("publish_escalation")] == [
            "reminder",
            "supervision",
            "warning",
        ]
        assert [e.to for e in calls.of("record_escalation")] == ["agency", "district_hq", "city_hq"]
        await handle.signal(TaskWorkflow.stand_down)
        result = await handle.result()
    assert result.state == "stood_down"
    assert result.escalations == 3
    assert result.acknowledged_at is None


async def test_acknowledged_in_time_is_never_escalated(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    async with _worker(time_skipping_env, calls) as worker:
        handle = await _start(time_skipping_env, worker)
        await handle.signal(TaskWorkflow.agency_event, AgencyEvent("acknowledge", by="team-7"))
        await advance(time_skipping_env, timedelta(minutes=90))
        await handle.signal(TaskWorkflow.agency_event, AgencyEvent("complete", by="team-7"))
        result = await handle.result()
    assert result.state == "completed"
    assert result.escalations == 0
    assert calls.of("publish_escalation") == []
    kinds = [t.kind for t in calls.of("record_task_transition")]
    assert kinds == ["acknowledge", "complete"]
    seqs = [t.seq for t in calls.of("record_task_transition")]
    assert seqs == [1, 2]


async def test_missed_deadline_is_recorded_once(time_skipping_env: WorkflowEnvironment) -> None:
    calls = Calls()
    async with _worker(time_skipping_env, calls) as worker:
        handle = await _start(time_skipping_env, worker)
        await handle.signal(TaskWorkflow.agency_event, AgencyEvent("acknowledge"))
        await advance(time_skipping_env, timedelta(hours=3))
        assert await handle.query(TaskWorkflow.state) == "overdue"
        await handle.signal(TaskWorkflow.agency_event, AgencyEvent("decline", note="no trucks"))
        result = await handle.result()
    assert result.state == "declined"
    assert result.history == ["acknowledge", "deadline_missed", "decline"]
