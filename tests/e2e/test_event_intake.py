"""Agency events that no layer behind intake can carry are dead-lettered; later events still land.

Issue #9 item 3: the 56-byte event ``{"task_id": "x/\\ud800", ...}`` (valid UTF-8 JSON) made
delivery raise ``UnicodeEncodeError``; the intake took that for an outage and retried it every
10 s forever without committing, so every later answer of every agency waited behind it.

Real Kafka, the real Temporal dev server, the real database and the worker as ``worker.py``
runs it. The tests rely only on what the agency event consumer promises (a refused event is
dead-lettered with its reason and recorded; a good one reaches its task), not on how delivery
works inside.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import TopicPartition
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from config.kafka import client_options
from config.settings import Settings
from plans.loader import load_plan
from plans.model import Hazard, Level
from plans.warning import Alert, Kind, Status
from runtime.ops import events_topic
from store.db import create_engine, session_maker
from store.models import RejectionRecord, TaskRecord
from tests.alerts.strategies import agency_events
from tests.e2e.harness import collect, eventually, prepare, running_worker
from tests.e2e.test_intake_kafka import _draw
from workflows.starters import submit

pytestmark = pytest.mark.e2e

PLAN = load_plan()
POISON = b'{"task_id": "x/\\ud800", "kind": "acknowledge", "by": "p"}'
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def sessions(e2e_settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(e2e_settings.db_url)
    try:
        yield session_maker(engine)
    finally:
        await engine.dispose()


async def a_drainage_task(settings: Settings, client: Client) -> str:
    """Start a blue flood response in Pudong; the id of one of its drainage tasks."""
    alert = Alert(
        id="flood-1",
        sender="test",
        sent=datetime.now(UTC),
        status=Status.ACTUAL,
        kind=Kind.ALERT,
        hazard=Hazard.FLOOD,
        level=Level.BLUE,
        areas=("pudong",),
    )
    await submit(client, settings.task_queue, settings.region, PLAN, alert)
    tasks = await collect(
        settings,
        [settings.topic("tasks.drainage")],
        lambda m: m["type"] == "task",
        count=1,
    )
    task_id: str = tasks[0]["task_id"]
    return task_id


async def state_of(sessions: async_sessionmaker[AsyncSession], task_id: str) -> str | None:
    async with sessions() as session:
        task = await session.get(TaskRecord, task_id)
        return task.state if task else None


async def refusals(sessions: async_sessionmaker[AsyncSession]) -> list[RejectionRecord]:
    async with sessions() as session:
        rows = await session.scalars(select(RejectionRecord).order_by(RejectionRecord.id))
        return list(rows.all())


async def committed(settings: Settings) -> int:
    """The live event consumer group's committed offset on drainage's (single) events partition."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{settings.consumer_group}.events")
    except GroupCoordinatorNotAvailableError:  # a fresh broker's offsets topic is not up yet
        return 0
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(events_topic(settings, "drainage"), 0))
    return meta.offset if meta is not None and meta.offset >= 0 else 0


def acknowledge(task_id: str) -> bytes:
    return json.dumps({"task_id": task_id, "kind": "acknowledge", "by": "pump-crew-3"}).encode()


async def test_the_poison_event_is_dead_lettered_and_the_next_event_delivered(
    e2e_settings: Settings,
    temporal_env: Any,
    producer: AIOKafkaProducer,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = e2e_settings
    await prepare(settings)
    async with running_worker(settings):
        task_id = await a_drainage_task(settings, temporal_env.client)
        events = events_topic(settings, "drainage")
        await producer.send_and_wait(events, POISON)
        await producer.send_and_wait(events, acknowledge(task_id))

        async def acknowledged() -> bool:
            return await state_of(sessions, task_id) == "acknowledged"

        assert await eventually(acknowledged), "the event behind the poison was delivered"
        (dead,) = await collect(
            settings,
            [settings.topic("tasks.events.dlq")],
            lambda m: True,
            count=1,
            decode=False,
        )
        assert dead["value"] == POISON
        assert dead["headers"]["reason"].startswith("task_id: contains '\\ud800'")
        assert dead["headers"]["source"] == f"{events}:0:0"
        (row,) = await eventually(lambda: refusals(sessions))
        assert (row.channel, row.reason, row.payload) == (
            f"kafka:{events}",
            dead["headers"]["reason"],
            POISON,
        )
        assert await eventually(lambda: _at_least(committed(settings), 2))


@SQLITE_ONLY
async def test_fuzzed_events_are_refused_at_the_edge_and_later_events_still_delivered(
    e2e_settings: Settings,
    temporal_env: Any,
    producer: AIOKafkaProducer,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Lone surrogates, NUL, control characters, long ids, huge numbers, in any field."""
    settings = e2e_settings
    noise: list[bytes] = _draw(agency_events(), 200)
    await prepare(settings)
    async with running_worker(settings):
        task_id = await a_drainage_task(settings, temporal_env.client)
        events = events_topic(settings, "drainage")
        for payload in noise:
            await producer.send(events, payload)
        await producer.send_and_wait(events, acknowledge(task_id))

        async def acknowledged() -> bool:
            return await state_of(sessions, task_id) == "acknowledged"

        assert await eventually(acknowledged), "the event behind the noise was delivered"
        dead = await collect(
            settings,
            [settings.topic("tasks.events.dlq")],
            lambda m: True,
            count=len(noise),
            decode=False,
        )
        assert [d["value"] for d in dead] == noise  # none names a real task: all refused
        reasons = [d["headers"]["reason"] for d in dead]
        # Refused by the parser or by delivery's own checks: none got as far as breaking a
        # layer behind intake (that would read "cannot be handled (SomeError: ...)").
        assert not [r for r in reasons if r.startswith("cannot be")]
        rows = await eventually(lambda: _count(refusals(sessions), len(noise)))
        assert [r.reason for r in rows] == reasons
        assert await eventually(lambda: _at_least(committed(settings), len(noise) + 1))


async def _at_least(found: Any, count: int) -> bool:
    return bool(await found >= count)


async def _count(found: Any, count: int) -> Any:
    rows = await found
    return rows if len(rows) >= count else None
