"""Kafka intake: ``tidegate.alerts`` to response workflows, bad input to the dead-letter topic.

The offset of a message is committed only after the message was routed or dead-lettered, so a
crash re-reads it (the workflow's ledger drops the duplicate). Rejected input goes to
``tidegate.alerts.dlq`` with the original bytes and the reason in headers, and into the
database; nothing a sender writes can stop the consumer. A valid alert that cannot be routed
because Temporal is down is retried, never dead-lettered: the alert is fine, the path is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from alerts.route import submit
from store.records import save_rejection

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from config.settings import Settings
    from plans.model import Plan

log = logging.getLogger("tidegate.intake")

RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Backoff (seconds) while the route to Temporal is down; the last value repeats."""


class AlertConsumer:
    """Consumes ``tidegate.alerts`` while the worker runs (an async context manager)."""

    def __init__(
        self,
        settings: Settings,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        plan: Plan,
    ) -> None:
        self._settings = settings
        self._client = client
        self._sessions = sessions
        self._producer = producer
        self._plan = plan
        self._topic = settings.topic("alerts")
        self._dlq = settings.topic("alerts.dlq")
        self._consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=f"{settings.consumer_group}.alerts",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AlertConsumer:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="alert-intake")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        async for record in self._consumer:
            await self.handle(record)
            tp = TopicPartition(record.topic, record.partition)
            await self._consumer.commit({tp: record.offset + 1})

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Route one message, or dead-letter it with the reason."""
        payload = record.value or b""
        try:
            alert = parse_alert(payload, max_bytes=self._settings.max_alert_bytes)
        except AlertRejected as exc:
            await self.dead_letter(payload, str(exc), record)
            return
        attempt = 0
        while True:
            try:
                routed = await submit(
                    self._client, self._settings.task_queue, self._settings.region, self._plan, alert
                )
            except Exception as exc:  # noqa: BLE001 - Temporal unreachable: keep the alert, retry
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                attempt += 1
                log.warning("cannot route alert %s yet (%s); retrying in %ss", alert.id, exc, delay)
                await asyncio.sleep(delay)
                continue
            log.info("alert %s (%s) routed to %s", alert.id, alert.kind, routed.workflow_id)
            return

    async def dead_letter(
        self, payload: bytes, reason: str, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        """Original bytes to the DLQ with the reason and origin in headers; reason in the DB."""
        log.warning("rejected message %s:%s@%s: %s", record.topic, record.partition, record.offset, reason)
        headers = [
            ("reason", reason.encode()),
            ("source", f"{record.topic}:{record.partition}:{record.offset}".encode()),
        ]
        await self._producer.send_and_wait(self._dlq, payload, key=record.key, headers=headers)
        async with self._sessions.begin() as session:
            await save_rejection(session, "kafka", reason, payload, datetime.now(UTC))
