"""``tidegate agency listen`` in a subprocess, against the session's real Kafka broker.

Issue #9 item 10: with an unknown agency it listened to a topic nobody writes, silently, for
ever; with Kafka down it died with a traceback at start, or (down later) printed about a
thousand raw aiokafka error lines. Now an unknown agency is refused, and an outage is one line
when it starts and one when it ends, with every message still printed.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from config.kafka import client_options
from config.settings import ROOT, Settings
from devstack.kafka import KafkaBroker
from tests.e2e.harness import env_for, eventually, tidegate

pytestmark = pytest.mark.e2e


def test_an_agency_the_plan_does_not_have_is_refused(settings: Settings) -> None:
    result = tidegate(settings, "agency", "listen", "drainaje")
    assert result.returncode == 2
    assert "'drainaje' is not an agency of the plan" in result.stderr
    assert "drainage" in result.stderr  # the plan's agencies are listed


class Lines:
    """A subprocess stream, read line by line as it comes."""

    def __init__(self, stream: asyncio.StreamReader | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode().rstrip("\n"))

    async def closed(self) -> None:
        await self._task

    def having(self, text: str) -> Callable[[], bool]:
        return lambda: any(text in line for line in self.lines)


async def _create(settings: Settings, topic: str) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def _send(settings: Settings, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def test_listen_says_when_kafka_is_away_and_back_and_prints_every_task(
    settings: Settings, kafka_broker: KafkaBroker
) -> None:
    s = settings.model_copy(
        update={
            "kafka_bootstrap": kafka_broker.bootstrap,
            "topic_prefix": f"l{uuid.uuid4().hex[:8]}",
        }
    )
    topic = s.topic("tasks.drainage")
    await _create(s, topic)
    await asyncio.to_thread(kafka_broker.stop)
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "cli.main", "agency", "listen", "drainage", "--from-start"],
        env=env_for(s) | {"TIDEGATE_TOPIC_PREFIX": s.topic_prefix},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        assert await eventually(err.having("is not reachable")), err.lines
        await asyncio.to_thread(kafka_broker.start, fresh=False)
        assert await eventually(err.having("is back; listening to")), err.lines
        await _send(s, topic, b'{"task": 1}')
        assert await eventually(out.having('{"task": 1}')), out.lines

        await asyncio.to_thread(kafka_broker.stop)
        assert await eventually(err.having("lost Kafka")), err.lines
        await asyncio.to_thread(kafka_broker.start, fresh=False)
        assert await eventually(lambda: err.lines[-1].endswith(f"is back; listening to {topic}"))
        await _send(s, topic, b'{"task": 2}')
        assert await eventually(out.having('{"task": 2}')), out.lines
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        await out.closed()
        await err.closed()
    assert out.lines == ['{"task": 1}', '{"task": 2}']
    # Banners only (away, back, lost, back; a broker coming up may make one more lost/back
    # pair), no aiokafka lines, no traceback: before, hundreds of lines a minute.
    assert all(line.startswith("tidegate: ") for line in err.lines), err.lines
    assert 4 <= len(err.lines) <= 8, err.lines
    assert "is not reachable" in err.lines[0], err.lines
    assert any("lost Kafka" in line for line in err.lines), err.lines
