"""The real broker: a produce/consume round trip, its log, explicit topics, restarts with data."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from config.kafka import client_options
from config.settings import Settings
from devstack import _proc
from devstack.kafka import KafkaBroker, _pom, java_major_version
from runtime.ops import ensure_topics, standard_topics


async def _produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"pudong")
    finally:
        await producer.stop()


async def _consume(settings: Settings, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            return [(await consumer.getone()).value for _ in range(count)]
    finally:
        await consumer.stop()


async def _partition_counts(settings: Settings) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(None)}
    finally:
        await admin.close()


async def test_idempotent_round_trip(kafka_broker: KafkaBroker, settings: Settings) -> None:
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, {topic: 1})
    await _produce(settings, topic, [b"blue-warning", b"red-warning"])
    assert await _consume(settings, topic, 2) == [b"blue-warning", b"red-warning"]


def test_broker_writes_its_log(kafka_broker: KafkaBroker) -> None:
    # An empty server.log means the SLF4J binding is missing and every failure is invisible.
    text = kafka_broker.server_log.read_text()
    assert "Kafka Server started" in text


async def test_standard_topics_get_explicit_partitions(
    kafka_broker: KafkaBroker, settings: Settings
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    isolated = settings.model_copy(
        update={"topic_prefix": prefix, "drill_topic_prefix": f"{prefix}.drill"}
    )
    topics = standard_topics(isolated, ["drainage", "grid"])
    assert topics[f"{prefix}.alerts"] == settings.topic_partitions
    assert topics[f"{prefix}.alerts.dlq"] == 1
    assert topics[f"{prefix}.drill.tasks.grid"] == settings.topic_partitions
    assert topics[f"{prefix}.tasks.events.dlq"] == 1
    assert topics[f"{prefix}.tasks.events.grid"] == settings.topic_partitions
    assert topics[f"{prefix}.drill.tasks.events.drainage"] == settings.topic_partitions
    assert f"{prefix}.tasks.events" not in topics  # one events topic per agency, none shared
    assert topics[f"{prefix}.alerts.decisions"] == settings.topic_partitions
    assert topics[f"{prefix}.hq.decisions"] == settings.topic_partitions
    assert topics[f"{prefix}.hq.decisions.dlq"] == 1
    assert len(topics) == 2 * 12

    await ensure_topics(isolated, topics)
    await ensure_topics(isolated, topics)  # existing topics are fine

    counts = await _partition_counts(settings)
    assert {name: counts.get(name) for name in topics} == topics


async def test_restart_keeps_topics_and_messages(
    kafka_broker: KafkaBroker, settings: Settings
) -> None:
    topic = f"test.durable.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, {topic: 2})
    await _produce(settings, topic, [b"before-restart"])

    kafka_broker.stop()
    assert not kafka_broker.is_running()
    assert not _proc.port_open(kafka_broker.port)
    kafka_broker.start(fresh=False)

    assert (await _partition_counts(settings))[topic] == 2
    assert await _consume(settings, topic, 1) == [b"before-restart"]


def test_pom_brings_the_slf4j_1_binding() -> None:
    pom = _pom("4.1.1")
    assert "<artifactId>kafka_2.13</artifactId><version>4.1.1</version>" in pom
    assert "<artifactId>log4j-slf4j-impl</artifactId>" in pom
    assert "log4j-slf4j2-impl" not in pom
    assert "<artifactId>slf4j-api</artifactId><version>1.7.36</version>" in pom


def test_java_version_parsing(tmp_path: Path) -> None:
    for printed, major in [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "21" 2023-09-19', 21),
    ]:
        fake = tmp_path / f"java{major}"
        fake.write_text(f"#!/bin/sh\necho '{printed}' >&2\n")
        fake.chmod(0o755)
        assert java_major_version(str(fake)) == major
