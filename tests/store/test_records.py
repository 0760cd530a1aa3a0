"""Repository writes are idempotent on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import records
from store.db import create_engine, session_maker
from store.migrate import upgrade_async
from store.models import AuditRecord, EscalationRecord, TaskEventRecord, TaskRecord
from store.queries import overview

NOW = datetime(2026, 7, 24, 8, 40, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade_async(database_url)
    await upgrade_async(database_url)  # a second upgrade is a no-op
    engine = create_engine(database_url)
    yield session_maker(engine)
    await engine.dispose()


def _task_row(task_id: str) -> dict[str, object]:
    return {
        "id": task_id,
        "response_id": "resp-1",
        "plan_task_id": task_id.split("/", 1)[1],
        "action_id": "drainage.prelower",
        "agency": "drainage",
        "area": "pudong",
        "asset": None,
        "hazard": "rainstorm",
        "response_level": "IV",
        "state": "dispatched",
        "drill": False,
        "plan_version": "1",
        "issued_at": NOW,
        "deadline_at": NOW + timedelta(hours=1),
        "updated_at": NOW,
    }


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_tasks_are_recorded_once_however_often_the_activity_retries(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rows = [_task_row("resp-1/drainage.prelower@pudong"), _task_row("resp-1/x@citywide")]
    for _ in range(3):
        async with sessions.begin() as session:
            await records.save_tasks(session, rows)
    async with sessions() as session:
        assert await _count(session, TaskRecord) == 2
        assert await _count(session, TaskEventRecord) == 2


async def test_a_storm_of_tasks_goes_in_as_bulk_inserts_and_keeps_existing_states(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """More rows than one batch takes; a retry mixing old and new rows adds only the new."""
    ids = [f"resp-1/t{i}@pudong" for i in range(1200)]
    first = [_task_row(task_id) for task_id in ids]
    async with sessions.begin() as session:
        await records.save_tasks(session, first[:300])
    async with sessions.begin() as session:
        await records.save_transition(session, ids[0], 1, "acknowledged", "ack", NOW, {})
    for _ in range(2):
        async with sessions.begin() as session:
            await records.save_tasks(session, first)
    async with sessions() as session:
        assert await _count(session, TaskRecord) == len(first)
        events = await session.scalars(select(TaskEventRecord.key))
        assert sorted(events) == sorted([f"{i}#0" for i in ids] + [f"{ids[0]}#1"])
        kept = await session.get(TaskRecord, ids[0])
        assert kept is not None and kept.state == "acknowledged"


async def test_transitions_and_escalations_are_idempotent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    task_id = "resp-1/drainage.prelower@pudong"
    async with sessions.begin() as session:
        await records.save_tasks(session, [_task_row(task_id)])
    for _ in range(2):
        async with sessions.begin() as session:
            await records.save_transition(
                session, task_id, 1, "acknowledged", "acknowledge", NOW, {}
            )
            await records.save_escalation(
                session,
                task_id=task_id,
                response_id="resp-1",
                step=0,
                kind="reminder",
                to="agency",
                at=NOW,
            )
            await records.audit(session, "k1", "resp-1", "levels_changed", NOW, levels={"x": "IV"})
    async with sessions() as session:
        task = await session.get(TaskRecord, task_id)
        assert task is not None and task.state == "acknowledged"
        assert await _count(session, TaskEventRecord) == 2
        assert await _count(session, EscalationRecord) == 1
        assert await _count(session, AuditRecord) == 1


async def test_a_replayed_old_transition_does_not_move_the_state_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    task_id = "resp-1/drainage.prelower@pudong"
    async with sessions.begin() as session:
        await records.save_tasks(session, [_task_row(task_id)])
        await records.save_transition(session, task_id, 1, "acknowledged", "acknowledge", NOW, {})
        await records.save_transition(session, task_id, 2, "completed", "complete", NOW, {})
    async with sessions.begin() as session:
        await records.save_transition(session, task_id, 1, "acknowledged", "acknowledge", NOW, {})
    async with sessions() as session:
        task = await session.get(TaskRecord, task_id)
        assert task is not None and task.state == "completed"


async def test_rejections_are_kept_with_reason_and_bytes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await records.save_rejection(session, "kafka", "syntax: not JSON", b"\xff\xfe", NOW)
    async with sessions() as session:
        assert await overview(session) == []
        from store.models import RejectionRecord

        row = (await session.scalars(select(RejectionRecord))).one()
        assert (row.reason, row.payload) == ("syntax: not JSON", b"\xff\xfe")


async def test_a_rejection_from_a_long_kafka_topic_is_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = f"kafka:{'t' * 249}"  # Kafka's longest topic name
    async with sessions.begin() as session:
        await records.save_rejection(session, channel, "syntax: not JSON", b"x", NOW)
    async with sessions() as session:
        from store.models import RejectionRecord

        row = (await session.scalars(select(RejectionRecord))).one()
        assert row.channel == channel


async def test_a_batch_of_rejections_goes_in_whole_and_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from store.models import RejectionRecord

    rows = [
        {
            "channel": "kafka:t",
            "reason": f"refused {i}",
            "payload": bytes([i % 256]) * i,
            "received_at": NOW,
        }
        for i in range(2500)  # over one statement's 1,000 rows
    ]
    async with sessions.begin() as session:
        await records.save_rejections(session, rows)
        await records.save_rejections(session, [])
    async with sessions() as session:
        found = (await session.scalars(select(RejectionRecord).order_by(RejectionRecord.id))).all()
    assert [(r.reason, r.payload) for r in found] == [(r["reason"], r["payload"]) for r in rows]
