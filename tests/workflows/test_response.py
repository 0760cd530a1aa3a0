"""ResponseWorkflow on the time-skipping server with the real plan and fake activities."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from plans.hq import HqDecision, HqKind
from plans.lifecycle import task_workflow_id
from plans.loader import load_plan
from plans.model import (
    ActiveWarning,
    Hazard,
    Level,
    Plan,
    ResponseLevel,
    StandDown,
    compute_content_hash,
)
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from tests.workflows.fakes import Calls, advance, fake_activities
from workflows.response import ResponseWorkflow
from workflows.task import TaskWorkflow
from workflows.types import AgencyEvent, ResponseInput, ResponseStatus, ResponseSummary

PLAN = load_plan()


def alert(
    alert_id: str,
    sent: datetime,
    level: Level,
    kind: Kind = Kind.ALERT,
    references: tuple[str, ...] = (),
    areas: tuple[str, ...] = ("pudong",),
) -> Alert:
    return Alert(
        id=alert_id,
        sender="test",
        sent=sent,
        status=Status.ACTUAL,
        kind=kind,
        references=references,
        hazard=Hazard.RAINSTORM,
        level=level,
        areas=areas,
    )


def expected_ids(plan: Plan, level: Level) -> list[str]:
    warning = ActiveWarning(Hazard.RAINSTORM, level, ("pudong",))
    return [t.id for t in respond([warning], plan).tasks]


PATIENCE_S = 120.0
"""How long a condition may take to hold before the test gives up (not a speed bound)."""


class Harness:
    """A response workflow on a fresh task queue with recording fakes."""

    def __init__(self, env: WorkflowEnvironment, calls: Calls, worker: Worker) -> None:
        self.env = env
        self.calls = calls
        self.worker = worker
        self.handle: WorkflowHandle[ResponseWorkflow, ResponseSummary] | None = None
        self.continue_every = 200

    async def send(self, message: Alert) -> None:
        """Signal-with-start, as intake does."""
        self.handle = await self.env.client.start_workflow(
            ResponseWorkflow.run,
            ResponseInput(region="test", plan=PLAN, continue_every=self.continue_every),
            id=f"response-test-{self.worker.task_queue}",
            task_queue=self.worker.task_queue,
            start_signal="receive_alert",
            start_signal_args=[message],
        )

    async def status(self) -> ResponseStatus:
        """Query the latest run (the handle from the first start may point at a finished one)."""
        assert self.handle is not None
        latest = self.env.client.get_workflow_handle(self.handle.id)
        return await latest.query(ResponseWorkflow.status, rpc_timeout=timedelta(seconds=2))

    async def until(self, check: Callable[[ResponseStatus], bool]) -> ResponseStatus:
        """Poll the status until ``check`` holds; the bound is generous (a busy machine)."""
        status = None
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            try:
                status = await self.status()
            except RPCError:
                # The test server can drop a query that lands on a run as it continues as
                # new; the next poll reaches the new run.
                continue
            if check(status):
                return status
            await asyncio.sleep(0.05)
        raise AssertionError(f"condition never held; last status {status}")

    def published(self) -> list[str]:
        return [t.id for call in self.calls.of("publish_tasks") for t in call.tasks]

    def stood_down(self) -> list[str]:
        return [t.id for call in self.calls.of("publish_stand_down") for t in call.tasks]


@pytest.fixture
async def harness(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    calls = Calls()
    async with Worker(
        time_skipping_env.client,
        task_queue=f"tq-{uuid.uuid4()}",
        workflows=[ResponseWorkflow, TaskWorkflow],
        activities=fake_activities(calls, time_skipping_env.client),
    ) as worker:
        yield Harness(time_skipping_env, calls, worker)


async def test_a_warning_dispatches_every_task_the_plan_requires(harness: Harness) -> None:
    now = await harness.env.get_current_time()
    await harness.send(alert("a1", now, Level.BLUE))
    want = expected_ids(PLAN, Level.BLUE)
    status = await harness.until(lambda s: len(s.tasks) == len(want))
    assert status.levels == {"pudong": "IV"}
    assert status.active_warnings == ["a1"]
    assert sorted(harness.published()) == want
    recorded = [t.id for call in harness.calls.of("record_tasks") for t in call.tasks]
    assert sorted(recorded) == want
    assert {v.state for v in status.tasks} == {"dispatched"}


async def test_duplicates_take_effect_once_and_upgrades_only_add(harness: Harness) -> None:
    now = await harness.env.get_current_time()
    await harness.send(alert("a1", now, Level.BLUE))
    await harness.send(alert("a1", now, Level.BLUE))
    blue = expected_ids(PLAN, Level.BLUE)
    await harness.until(lambda s: len(s.tasks) == len(blue))
    later = now + timedelta(minutes=30)
    await harness.send(alert("a2", later, Level.ORANGE, Kind.UPDATE, ("a1",)))
    orange = expected_ids(PLAN, Level.ORANGE)
    status = await harness.until(lambda s: s.levels == {"pudong": "II"})
    await harness.until(lambda s: len(s.tasks) == len(set(blue) | set(orange)))
    assert sorted(harness.published()) == sorted(set(blue) | set(orange))
    assert len(harness.published()) == len(set(harness.published()))
    assert harness.stood_down() == []
    decisions = [w.decision for w in harness.calls.of("record_warning")]
    assert decisions == ["apply", "duplicate", "apply"]
    assert status.active_warnings == ["a2"]  # the update is the message now in force


async def test_cancel_stands_down_and_the_response_completes(harness: Harness) -> None:
    now = await harness.env.get_current_time()
    await harness.send(alert("a1", now, Level.BLUE))
    blue = expected_ids(PLAN, Level.BLUE)
    await harness.until(lambda s: len(s.tasks) == len(blue))
    await harness.send(alert("c1", now + timedelta(minutes=5), Level.BLUE, Kind.CANCEL, ("a1",)))
    status = await harness.until(lambda s: s.levels == {} and not s.active_warnings)
    keep = [t.id for t in respond([], PLAN).tasks]
    tasks = {t.id: t for t in load_tasks(Level.BLUE)}
    to_stand_down = sorted(i for i in blue if tasks[i].on_stand_down is StandDown.STAND_DOWN)
    assert sorted(harness.stood_down()) == to_stand_down
    assert keep == []
    # Tasks the plan keeps until done must be finished by their agencies.
    status = await harness.until(
        lambda s: (
            all(v.state in ("stood_down", "dispatched") for v in s.tasks)
            and sum(v.state == "stood_down" for v in s.tasks) == len(to_stand_down)
        )
    )
    for view in status.tasks:
        if view.state == "dispatched":
            task_handle = harness.env.client.get_workflow_handle(task_workflow_id(view.task_id))
            await task_handle.signal(TaskWorkflow.agency_event, AgencyEvent("complete"))
    assert harness.handle is not None
    summary = await harness.handle.result()
    assert summary.tasks == len(blue)
    assert summary.warnings_received == 2
    assert sum(summary.states.values()) == len(blue)


async def test_unacknowledged_tasks_escalate_on_the_plan_timers(harness: Harness) -> None:
    now = await harness.env.get_current_time()
    await harness.send(alert("a1", now, Level.BLUE))
    blue = load_tasks(Level.BLUE)
    await harness.until(lambda s: len(s.tasks) == len(blue))
    longest = max(step.after_minutes for task in blue for step in task.escalation)
    await advance(harness.env, timedelta(minutes=longest + 1))
    fired = harness.calls.of("publish_escalation")
    assert len(fired) == sum(len(task.escalation) for task in blue)
    status = await harness.status()
    assert {v.state for v in status.tasks} == {"escalated"}


def load_tasks(level: Level) -> list:  # type: ignore[type-arg]
    return list(respond([ActiveWarning(Hazard.RAINSTORM, level, ("pudong",))], PLAN).tasks)


def without_action(plan: Plan, action_id: str, version: str) -> Plan:
    """A later plan version that no longer has ``action_id``."""
    changed = dataclasses.replace(
        plan, version=version, actions=tuple(a for a in plan.actions if a.id != action_id)
    )
    return dataclasses.replace(changed, content_hash=compute_content_hash(changed))


async def test_a_new_plan_applies_only_through_the_validated_update(harness: Harness) -> None:
    now = await harness.env.get_current_time()
    await harness.send(alert("a1", now, Level.BLUE))
    blue = expected_ids(PLAN, Level.BLUE)
    await harness.until(lambda s: len(s.tasks) == len(blue))
    assert harness.handle is not None

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await harness.handle.execute_update(ResponseWorkflow.apply_plan, PLAN)
    assert "already in use" in str(refused.value.cause)
    other = dataclasses.replace(PLAN, plan_id="somewhere-else")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await harness.handle.execute_update(ResponseWorkflow.apply_plan, other)
    assert "not this response's plan" in str(refused.value.cause)

    dropped = next(i for i in blue if i.startswith("media."))
    newer = without_action(PLAN, dropped.split("@")[0], "2099.1")
    assert await harness.handle.execute_update(ResponseWorkflow.apply_plan, newer) == "2099.1"
    status = await harness.until(lambda s: s.plan_version == "2099.1")
    assert [t for t in harness.stood_down() if t.startswith(dropped.split("@")[0])]
    assert sorted(harness.published()) == blue  # nothing sent twice
    assert status.levels == {"pudong": "IV"}


async def test_state_survives_continue_as_new(harness: Harness) -> None:
    harness.continue_every = 1
    now = await harness.env.get_current_time()
    await harness.send(alert("a1", now, Level.BLUE))
    blue = expected_ids(PLAN, Level.BLUE)
    await harness.until(lambda s: len(s.tasks) == len(blue))
    assert harness.handle is not None
    first_run = (await harness.handle.describe()).run_id
    await harness.send(alert("a2", now + timedelta(minutes=9), Level.ORANGE, Kind.UPDATE, ("a1",)))
    orange = expected_ids(PLAN, Level.ORANGE)
    status = await harness.until(lambda s: len(s.tasks) == len(set(blue) | set(orange)))
    described = await harness.env.client.get_workflow_handle(harness.handle.id).describe()
    assert described.run_id != first_run
    assert len(harness.published()) == len(set(harness.published()))
    assert status.active_warnings == ["a2"]
    # A task reports to the response by workflow id, so the report reaches the new run.
    first = status.tasks[0]
    task = harness.env.client.get_workflow_handle(task_workflow_id(first.task_id))
    await task.signal(TaskWorkflow.agency_event, AgencyEvent("acknowledge"))
    await harness.until(
        lambda s: next(v for v in s.tasks if v.task_id == first.task_id).state == "acknowledged"
    )


async def test_the_plan_goes_by_hash_and_whole_only_to_a_worker_that_does_not_know_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    async with Worker(
        time_skipping_env.client,
        task_queue=f"tq-{uuid.uuid4()}",
        workflows=[ResponseWorkflow, TaskWorkflow],
        activities=fake_activities(
            calls, time_skipping_env.client, known_plans=(PLAN.content_hash,)
        ),
    ) as worker:
        harness = Harness(time_skipping_env, calls, worker)
        now = await harness.env.get_current_time()
        await harness.send(alert("a1", now, Level.BLUE))
        blue = expected_ids(PLAN, Level.BLUE)
        await harness.until(lambda s: len(s.tasks) == len(blue))
        assert harness.handle is not None
        dropped = next(i for i in blue if i.startswith("media."))
        newer = without_action(PLAN, dropped.split("@")[0], "2099.2")
        assert await harness.handle.execute_update(ResponseWorkflow.apply_plan, newer) == "2099.2"
        await harness.until(lambda s: s.plan_version == "2099.2")
    sent = [(c.plan_hash, c.plan is not None) for c in calls.of("record_response")]
    assert sent == [
        (PLAN.content_hash, False),
        (newer.content_hash, False),
        (newer.content_hash, True),
    ]


async def test_an_hq_hold_stands_work_down_and_its_withdrawal_dispatches_it_again(
    harness: Harness,
) -> None:
    now = await harness.env.get_current_time()
    tide = dataclasses.replace(
        alert("t1", now, Level.ORANGE), hazard=Hazard.TIDE, areas=("citywide",)
    )
    await harness.send(tide)
    ii = respond([ActiveWarning(Hazard.TIDE, Level.ORANGE, ("citywide",))], PLAN)
    await harness.until(
        lambda s: s.levels.get("citywide") == "II" and len(s.tasks) == len(ii.tasks)
    )
    hold = HqDecision(
        id="hold-1",
        decided_by="市防汛指挥部",
        sent=now,
        kind=HqKind.HOLD,
        level=ResponseLevel.III,
        areas=("citywide",),
        reason="the tide peak is past; hold III",
    )
    assert harness.handle is not None
    await harness.handle.signal(ResponseWorkflow.receive_hq, hold)
    held = await harness.until(
        lambda s: (
            s.levels.get("citywide") == "III" and any(v.state == "stood_down" for v in s.tasks)
        )
    )
    assert held.automatic["citywide"] == "II" and held.declarations == ["hold-1"]
    assert harness.stood_down(), "the level II work is stood down"
    withdraw = dataclasses.replace(
        hold, id="undo-1", kind=HqKind.WITHDRAW, level=None, areas=(), references=("hold-1",)
    )
    await harness.handle.signal(ResponseWorkflow.receive_hq, withdraw)
    # Work stood down by the hold is dispatched again, under new ids.
    back = await harness.until(
        lambda s: (
            s.levels.get("citywide") == "II" and any(v.task_id.endswith("~2") for v in s.tasks)
        )
    )
    assert back.automatic == {} and back.declarations == []
    outcomes = [(c.decision.id, c.outcome) for c in harness.calls.of("record_hq_decision")]
    assert outcomes == [("hold-1", "apply"), ("undo-1", "apply")]
