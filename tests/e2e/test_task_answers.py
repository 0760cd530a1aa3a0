"""Tasks and answers that must never be dropped, on the real Temporal, Kafka and database.

- A plan task stood down comes back when the weather does: a new dispatch with its own id
  (issue #9, item 1: before, Minhang rose to III and no task went out).
- An agency system that acknowledges each task the moment its message arrives gets every
  acknowledgement applied (item 2: before, all 104 drainage acknowledgements were refused with
  "no open task" because tracking started tens of seconds after the messages). It logs in to
  Kafka as the agency's own user, as an agency's system does.
- Drill answers reach drill tasks only and live answers live tasks only, on Kafka and through
  the ``--fast`` drill's direct route (item 4: before, a "complete" on the drill events topic
  closed a live task).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from alerts.agency_events import deliver, parse_event
from alerts.kafka import Refused
from config.kafka import client_options
from config.settings import Settings
from plans.lifecycle import task_key
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level, StandDown
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from runtime.ops import agency_group_prefix, agency_user, ensure_access, events_topic
from store.db import create_engine, session_maker
from store.models import RejectionRecord, TaskRecord
from tests.e2e.harness import collect, eventually, prepare, running_worker
from workflows.starters import submit
from workflows.tracking import AnswerRoute

pytestmark = pytest.mark.e2e

PLAN = load_plan()


def warning(
    alert_id: str,
    level: Level,
    area: str,
    kind: Kind = Kind.ALERT,
    refs: tuple[str, ...] = (),
    status: Status = Status.ACTUAL,
    hazard: Hazard = Hazard.RAINSTORM,
) -> Alert:
    return Alert(
        id=alert_id,
        sender="test",
        sent=datetime.now(UTC),
        status=status,
        kind=kind,
        references=refs,
        hazard=hazard,
        level=level,
        areas=(area,),
    )


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


async def task_rows(sessions: async_sessionmaker[AsyncSession]) -> list[TaskRecord]:
    async with sessions() as session:
        return list((await session.scalars(select(TaskRecord))).all())


async def refusals(sessions: async_sessionmaker[AsyncSession]) -> list[RejectionRecord]:
    async with sessions() as session:
        return list((await session.scalars(select(RejectionRecord))).all())


async def test_a_stood_down_task_is_dispatched_again_under_a_new_id(
    e2e_settings: Settings,
    temporal_env: Any,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> None:
    settings = e2e_settings
    client: Client = temporal_env.client
    await prepare(settings)
    # A tide warning stays in force throughout, so the response outlives the rainstorm's cancel
    # (with nothing in force and nothing open it would end, and a new response would start).
    keep = ActiveWarning(Hazard.TIDE, Level.BLUE, ("jinshan",))
    rain = ActiveWarning(Hazard.RAINSTORM, Level.BLUE, ("citywide",))
    citywide = respond([keep, rain], PLAN)
    tide_only = {t.id for t in respond([keep], PLAN).tasks}
    minhang = respond([keep, ActiveWarning(Hazard.RAINSTORM, Level.YELLOW, ("minhang",))], PLAN)
    by_id = {t.id: t for t in citywide.tasks}
    again = {
        t.id
        for t in minhang.tasks
        if t.agency == "drainage"
        and t.id in by_id
        and t.id not in tide_only
        and by_id[t.id].on_stand_down is StandDown.STAND_DOWN
    }
    assert again, "some of Minhang's drainage tasks were in the citywide blue response"
    agencies = sorted({t.agency for t in citywide.tasks + minhang.tasks})
    topics = [settings.topic(f"tasks.{a}") for a in agencies]

    async def send(alert: Alert) -> None:
        await submit(client, settings.task_queue, settings.region, PLAN, alert)

    async with running_worker(settings):
        await send(warning("t1", Level.BLUE, "jinshan", hazard=Hazard.TIDE))
        await send(warning("r1", Level.BLUE, "citywide"))
        first = await collect(settings, topics, lambda m: m["type"] == "task", len(citywide.tasks))
        response_id = first[0]["response_id"]
        await send(warning("r1-cancel", Level.BLUE, "citywide", Kind.CANCEL, ("r1",)))

        async def stood_down() -> bool:
            rows = {r.id: r.state for r in await task_rows(sessions)}
            firsts = [rows.get(task_key(response_id, t)) for t in again]
            return all(state == "stood_down" for state in firsts)

        assert await eventually(stood_down), "the cancel stands Minhang's drainage down"

        await send(warning("r2", Level.YELLOW, "minhang"))
        want = {task_key(response_id, plan_task_id, 2) for plan_task_id in again}
        messages = await collect(
            settings,
            topics,
            lambda m: m["type"] == "task" and m["task_id"] in want,
            len(want),
        )
        assert {m["task_id"] for m in messages} == want
        assert all(m["dispatch"] == 2 for m in messages)
        assert {m["plan_task_id"] for m in messages} == again

        rows = {r.id: r for r in await task_rows(sessions)}
        assert all(rows[task_id].state == "dispatched" for task_id in want)
        assert all(rows[task_key(response_id, t, 1)].state == "stood_down" for t in again)

        # The new dispatch is a task like any other: its agency answers it.
        answered = sorted(want)[0]
        body = {"task_id": answered, "kind": "acknowledge", "by": "minhang-drainage"}
        await producer.send_and_wait(events_topic(settings, "drainage"), json.dumps(body).encode())

        async def acknowledged() -> bool:
            rows = {r.id: r for r in await task_rows(sessions)}
            return rows[answered].state == "acknowledged"

        assert await eventually(acknowledged)


async def test_acknowledgements_sent_the_moment_tasks_arrive_are_all_applied(
    e2e_settings: Settings,
    temporal_env: Any,
    sessions: async_sessionmaker[AsyncSession],
    kafka_agencies: list[str],
) -> None:
    """An agency system that answers on arrival, during a citywide red rainstorm."""
    settings = e2e_settings
    client: Client = temporal_env.client
    await prepare(settings)
    await ensure_access(settings, kafka_agencies)
    expected = respond([ActiveWarning(Hazard.RAINSTORM, Level.RED, ("citywide",))], PLAN)
    drainage = [t for t in expected.tasks if t.agency == "drainage"]
    as_drainage = client_options(settings, username=agency_user("drainage"))
    consumer = AIOKafkaConsumer(
        settings.topic("tasks.drainage"),
        **as_drainage,
        auto_offset_reset="earliest",
        group_id=f"{agency_group_prefix('drainage')}desk",
    )
    producer = AIOKafkaProducer(**as_drainage)
    acked: list[str] = []

    async def agency_system() -> None:
        async for record in consumer:
            message = json.loads(record.value or b"{}")
            if message.get("type") != "task":
                continue
            body = {"task_id": message["task_id"], "kind": "acknowledge", "by": "drainage-sys"}
            await producer.send_and_wait(
                events_topic(settings, "drainage"), json.dumps(body).encode()
            )
            acked.append(message["task_id"])

    await consumer.start()
    await producer.start()
    system = asyncio.create_task(agency_system())
    try:
        async with running_worker(settings):
            alert = warning("red", Level.RED, "citywide")
            await submit(client, settings.task_queue, settings.region, PLAN, alert)
            assert await eventually(lambda: len(acked) >= len(drainage), within=120)

            async def all_acknowledged() -> bool:
                rows = {r.id: r.state for r in await task_rows(sessions)}
                return all(rows.get(task_id) == "acknowledged" for task_id in acked)

            assert await eventually(all_acknowledged, within=120)
        assert len(acked) == len(drainage)
        refused = [r for r in await refusals(sessions) if "tasks.events" in r.channel]
        assert refused == [], [r.reason for r in refused]
    finally:
        system.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await system
        await consumer.stop()
        await producer.stop()


async def test_drill_answers_reach_drill_tasks_only_and_live_answers_live_tasks_only(
    e2e_settings: Settings,
    temporal_env: Any,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> None:
    settings = e2e_settings
    client: Client = temporal_env.client
    await prepare(settings)
    expected = respond([ActiveWarning(Hazard.RAINSTORM, Level.BLUE, ("pudong",))], PLAN)

    async with running_worker(settings):
        for alert in (
            warning("live-1", Level.BLUE, "pudong"),
            warning("drill-1", Level.BLUE, "pudong", status=Status.EXERCISE),
        ):
            await submit(client, settings.task_queue, settings.region, PLAN, alert)

        async def both_dispatched() -> list[TaskRecord] | None:
            rows = await task_rows(sessions)
            live = [r for r in rows if not r.drill]
            drill = [r for r in rows if r.drill]
            enough = len(live) == len(drill) == len(expected.tasks)
            return rows if enough else None

        rows = await eventually(both_dispatched)
        assert rows, "both responses record their tasks"
        live_row = next(r for r in rows if not r.drill)
        drill_row = next(r for r in rows if r.drill)
        live_task, drill_task = live_row.id, drill_row.id

        # --speed drills answer on Kafka: each topic reaches its own kind of task only.
        crossed = [
            (events_topic(settings, live_row.agency, drill=True), live_task),
            (events_topic(settings, drill_row.agency), drill_task),
        ]
        for topic, task_id in crossed:
            body = {"task_id": task_id, "kind": "complete", "by": "wrong-desk"}
            await producer.send_and_wait(topic, json.dumps(body).encode())

        async def both_refused() -> list[str] | None:
            reasons = [r.reason for r in await refusals(sessions)]
            return reasons if len(reasons) >= 2 else None

        reasons = await eventually(both_refused)
        assert reasons is not None
        assert any("is a live task; drill answers reach drill tasks only" in r for r in reasons)
        assert any("is a drill task; live answers reach live tasks only" in r for r in reasons)

        # --fast drills answer straight to the workflow, through the same delivery.
        fast = AnswerRoute(client, sessions, settings.task_queue, drill=True)
        event = parse_event(json.dumps({"task_id": live_task, "kind": "complete"}).encode())
        with pytest.raises(Refused, match="live task"):
            await deliver(fast, event)

        # Each kind of answer still reaches its own kind of task.
        for topic, task_id in (
            (events_topic(settings, live_row.agency), live_task),
            (events_topic(settings, drill_row.agency, drill=True), drill_task),
        ):
            body = {"task_id": task_id, "kind": "acknowledge", "by": "right-desk"}
            await producer.send_and_wait(topic, json.dumps(body).encode())

        async def states() -> Sequence[str] | None:
            found = {r.id: r.state for r in await task_rows(sessions)}
            pair = (found[live_task], found[drill_task])
            return pair if pair == ("acknowledged", "acknowledged") else None

        assert await eventually(states)
