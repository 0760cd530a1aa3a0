"""The one Kafka consume loop every intake uses: handle, or dead-letter, then commit.

A message's offset is committed only once it was handled or dead-lettered, so a crash re-reads
it and idempotent handlers make that harmless. Anything the handler refuses (it raises
:class:`Refused`) goes to the dead-letter topic with the original bytes and the reason in
headers, and into the database; no payload can stop the loop.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from store.records import save_rejection

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("tidegate.intake")

RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Backoff (seconds) while a downstream service is unreachable; the last value repeats."""


class Refused(Exception):
    """The message itself is bad (or names something unknown): dead-letter it with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KafkaIntake(abc.ABC):
    """Base consumer: subclasses implement :meth:`process` and name their topics."""

    channel = "kafka"

    def __init__(
        self,
        *,
        topic: str,
        dlq: str,
        group: str,
        bootstrap: str,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self._topic = topic
        self._dlq = dlq
        self._producer = producer
        self._sessions = sessions
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def process(self, payload: bytes) -> None:
        """Handle one message; raise :class:`Refused` for input that can never succeed."""

    async def __aenter__(self) -> Self:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"intake:{self._topic}")
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
        """Process one record, retrying while downstream is down, dead-lettering bad input.

        Dead-lettering is retried like processing, one step at a time (the DLQ message, then
        the database row), so a hiccup while recording a refusal neither ends the loop nor
        sends the message to the DLQ twice.
        """
        payload = record.value or b""
        attempt = 0
        refused: Refused | None = None
        dead_lettered = False
        while True:
            try:
                if refused is None:
                    try:
                        await self.process(payload)
                        return
                    except Refused as exc:
                        refused = exc
                if not dead_lettered:
                    await self.dead_letter(payload, refused.reason, record)
                    dead_lettered = True
                await self.record_refusal(payload, refused.reason, record)
                return
            except Exception as exc:  # downstream unreachable: keep it, retry
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                attempt += 1
                log.warning(
                    "%s: cannot handle message yet (%s); retry in %ss", self._topic, exc, delay
                )
                await asyncio.sleep(delay)

    async def dead_letter(
        self, payload: bytes, reason: str, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        """Original bytes to the DLQ, with the reason and the origin in headers."""
        source = f"{record.topic}:{record.partition}:{record.offset}"
        log.warning("dead-lettered %s: %s", source, reason)
        headers = [("reason", reason.encode()), ("source", source.encode())]
        await self._producer.send_and_wait(self._dlq, payload, key=record.key, headers=headers)

    async def record_refusal(
        self, payload: bytes, reason: str, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        """The refused payload and its reason to the ``rejections`` table."""
        async with self._sessions.begin() as session:
            await save_rejection(
                session, f"kafka:{record.topic}", reason, payload, datetime.now(UTC)
            )
