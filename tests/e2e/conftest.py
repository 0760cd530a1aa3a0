"""Fixtures shared by the end-to-end tests.

``e2e_settings`` points at the session's real services (Temporal dev server, Kafka, a fresh
database per test: SQLite and PostgreSQL) and gives the test a world of its own: its own
region (so its own ``response-<region>`` workflow), task queue, consumer group and Kafka
topics (prefix ``e2e<tag>``). Separate topics matter because intake reads ``tidegate.alerts``
from the earliest offset: without them, one test's alerts (or a thousand fuzz payloads) would
be read again by the next test's worker. The topics are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from config.kafka import client_options
from config.settings import Settings

log = logging.getLogger(__name__)


@pytest_asyncio.fixture
async def e2e_settings(
    settings: Settings, kafka_bootstrap: str, temporal_env: object, database_url: str
) -> AsyncIterator[Settings]:
    """Settings pointing at the session's real services, with a region and topics of its own."""
    target = temporal_env.client.service_client.config.target_host  # type: ignore[attr-defined]
    tag = uuid.uuid4().hex[:8]
    mine = settings.model_copy(
        update={
            "temporal_address": target,
            "kafka_bootstrap": kafka_bootstrap,
            "database_url": database_url,
            "region": f"e2e{tag}",
            "task_queue": f"tidegate-{tag}",
            "consumer_group": f"tidegate-{tag}",
            "topic_prefix": f"e2e{tag}",
            "drill_topic_prefix": f"e2e{tag}.drill",
            "topic_partitions": 1,
            # Intake returns as soon as the response decided; a loaded machine may take seconds.
            "decision_wait_seconds": 30.0,
        }
    )
    yield mine
    await _delete_topics(mine, f"e2e{tag}.")


async def _delete_topics(settings: Settings, prefix: str) -> None:
    """Best effort: a leftover topic costs the broker a little, never a test result."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:
        log.warning("could not delete the test's topics %s*: %s", prefix, exc)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
