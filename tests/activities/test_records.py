"""RecordActivities over a real database (SQLite, PostgreSQL) in the SDK's ActivityEnvironment."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.records import PLAN_UNKNOWN, RecordActivities, RecordResponseInput, RecordTasksInput
from plans.lifecycle import deadline, task_key
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level
from plans.rules import respond
from store.db import create_engine, session_maker
from store.migrate import upgrade_async
from store.models import PlanRecord, ResponseRecord, TaskRecord
from store.plans import PlanLibrary
from workflows.types import Tracking

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
PLAN = load_plan()
OTHER = dataclasses.replace(PLAN, version="other", content_hash="not-the-workers-plan")


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    yield session_maker(engine)
    await engine.dispose()


def response_input(plan_hash: str, with_plan: bool = False) -> RecordResponseInput:
    plan = OTHER if plan_hash == OTHER.content_hash else PLAN
    return RecordResponseInput(
        "resp-1", "shanghai", False, plan.plan_id, plan.version, plan_hash, NOW,
        plan if with_plan else None,
    )  # fmt: skip


async def test_a_response_records_its_plan_by_hash_when_the_worker_knows_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = RecordActivities(sessions, PlanLibrary(sessions, PLAN))
    await ActivityEnvironment().run(records.record_response, response_input(PLAN.content_hash))
    async with sessions() as session:
        stored = await session.scalar(select(PlanRecord.content_hash))
        response = await session.get(ResponseRecord, "resp-1")
    assert stored == PLAN.content_hash
    assert response is not None and response.plan_hash == PLAN.content_hash


async def test_an_unknown_plan_is_refused_once_then_taken_whole(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = RecordActivities(sessions, PlanLibrary(sessions, PLAN))
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as refused:
        await env.run(records.record_response, response_input(OTHER.content_hash))
    assert refused.value.type == PLAN_UNKNOWN and refused.value.non_retryable
    await env.run(records.record_response, response_input(OTHER.content_hash, with_plan=True))
    # Now the database knows it: a later run (continue-as-new) goes by hash again.
    fresh = RecordActivities(sessions, PlanLibrary(sessions))
    await env.run(fresh.record_response, response_input(OTHER.content_hash))


async def test_task_rows_keep_their_dispatch_number_scaled_deadline_and_tracking_input(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tasks = respond([ActiveWarning(Hazard.RAINSTORM, Level.BLUE, ("pudong",))], PLAN).tasks[:2]
    inp = RecordTasksInput(
        "resp-1", False, PLAN.version, tasks, NOW, (1, 3), "response-shanghai", "hash", 60.0
    )
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, task_queue="tq-tracking")
    records = RecordActivities(sessions, PlanLibrary(sessions, PLAN))
    await env.run(records.record_tasks, inp)
    await env.run(records.record_tasks, inp)  # a retry changes nothing
    async with sessions() as session:
        rows = {r.id: r for r in (await session.scalars(select(TaskRecord))).all()}
    first, third = task_key("resp-1", tasks[0].id, 1), task_key("resp-1", tasks[1].id, 3)
    assert sorted(rows) == sorted([first, third])
    assert third.endswith("~3") and rows[third].dispatch == 3
    assert rows[first].deadline_at == deadline(NOW, tasks[0].deadline_minutes, 60.0)
    tracked = Tracking.decode(rows[third].tracking or "")
    assert tracked.task_queue == "tq-tracking"
    assert tracked.input.task_id == third and tracked.input.task == tasks[1]
    assert tracked.input.time_scale == 60.0
