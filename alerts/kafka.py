"""The one Kafka consume loop every intake uses: handle a fetched batch, dead-letter, commit.

Each fetch (up to :data:`MAX_BATCH` records) is handled as a whole:

1. Every partition's records go through :meth:`KafkaIntake.process` in offset order, so good
   messages reach Temporal in the order they were written (a region's warnings stay in
   order); partitions are handled concurrently, as Kafka orders nothing across them anyway.
2. What a record raises decides its fate (:mod:`alerts.outage`): :class:`Refused`, or any
   failure that is not an outage of a service behind intake, refuses it; an outage keeps it
   and retries it with backoff, holding up only the records behind it on its partition.
3. The batch's refusals go to the dead-letter topic together (original bytes and key, the
   reason and the origin in headers: sent without waiting for each, then awaited once) and
   into the ``rejections`` table in one multi-row insert.
4. Only then are the offsets committed, so a crash re-reads the batch and idempotent handlers
   make that harmless (a refusal may then be dead-lettered twice; none is ever lost).

A refusal is decided in microseconds and its recording costs one round trip per batch, so a
burst of bad messages no longer holds up the good ones behind it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from access.audit import Note
from access.audit import write as write_audit
from alerts.errors import printable
from alerts.outage import is_outage, refusal_reason
from store.records import save_rejections

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("tidegate.intake")

RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Backoff (seconds) while a downstream service is unreachable; the last value repeats."""
MAX_BATCH = 500
"""Records fetched, handled and committed together."""
FETCH_TIMEOUT_MS = 1000


class Refused(Exception):
    """The message itself is bad (or names something unknown): dead-letter it with ``reason``.

    The reason is made safe to put in a header, a log line and a database row whatever the
    message contained (see :func:`alerts.errors.printable`).
    """

    def __init__(self, reason: str) -> None:
        reason = printable(reason)
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Refusal:
    """A record intake refused, and why."""

    record: ConsumerRecord[bytes, bytes]
    reason: str

    @property
    def source(self) -> str:
        """``topic:partition:offset`` of the refused record."""
        return origin(self.record)


def origin(record: ConsumerRecord[bytes, bytes]) -> str:
    """``topic:partition:offset``: where a record was read, the same every time it is read."""
    return f"{record.topic}:{record.partition}:{record.offset}"


class KafkaIntake(abc.ABC):
    """Base consumer: subclasses implement :meth:`process` and name their topics."""

    channel = "kafka"

    def __init__(
        self,
        *,
        topics: Sequence[str],
        dlq: str,
        group: str,
        client: Mapping[str, Any],
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        """Args:
        topics: What to consume, in one consumer group.
        dlq: Where refused records go.
        group: The consumer group.
        client: :func:`config.kafka.client_options`: where Kafka is, and who we are.
        producer: For the dead letters.
        sessions: For the ``rejections`` rows.
        """
        self._topics = tuple(topics)
        self._topic = _label(self._topics)
        self._dlq = dlq
        self._group = group
        self._kafka = dict(client)
        self._producer = producer
        self._sessions = sessions
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def process(self, payload: bytes, topic: str, *, origin: str) -> None:
        """Handle one message read from ``topic``; raise :class:`Refused` for input that can
        never succeed. ``origin`` is the record's ``topic:partition:offset``: the same when
        the record is read again after a crash (an idempotency key)."""

    def audit_refusal(self, refusal: Refusal) -> Note | None:
        """The audit entry of a refused record, written with its ``rejections`` row; ``None``
        (the default): the refusal is in ``rejections`` and the dead-letter topic only."""
        return None

    async def __aenter__(self) -> Self:
        consumer = AIOKafkaConsumer(
            *self._topics,
            **self._kafka,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name=f"intake:{self._topic}")
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
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            fetched = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=MAX_BATCH)
            records = [record for batch in fetched.values() for record in batch]
            if not records:
                continue
            await self.handle_batch(records)
            offsets = {tp: batch[-1].offset + 1 for tp, batch in fetched.items() if batch}
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # e.g. a rebalance: the next owner re-reads the batch
                log.warning("%s: could not commit offsets (%s)", self._topic, exc)

    async def handle_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Handle fetched records: each partition in order, then record the refusals at once."""
        lanes: dict[tuple[str, int], list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
        for record in records:
            lanes[record.topic, record.partition].append(record)
        results = await asyncio.gather(*(self._handle_lane(lane) for lane in lanes.values()))
        refusals = [refusal for lane in results for refusal in lane]
        if refusals:
            await self.dead_letter(refusals)
            await self.record_refusals(refusals)

    async def _handle_lane(self, records: list[ConsumerRecord[bytes, bytes]]) -> list[Refusal]:
        refusals = []
        for record in records:
            refusal = await self.handle(record)
            if refusal is not None:
                refusals.append(refusal)
        return refusals

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> Refusal | None:
        """Process one record, retrying while a service behind intake is down.

        Returns:
            ``None`` when the record was handled, else the refusal to dead-letter.
        """
        payload = record.value or b""
        attempt = 0
        while True:
            try:
                await self.process(payload, record.topic, origin=origin(record))
                return None
            except Refused as exc:
                return Refusal(record, exc.reason)
            except Exception as exc:
                if not is_outage(exc):
                    refusal = Refusal(record, refusal_reason(exc))
                    log.warning("%s: %s", refusal.source, refusal.reason, exc_info=True)
                    return refusal
                attempt = await _back_off(self._topic, attempt, exc)

    async def dead_letter(self, refusals: Sequence[Refusal]) -> None:
        """Original bytes and key to the DLQ, with the reason and the origin in headers.

        All are sent before any is awaited. A send that fails for lack of Kafka is retried
        (only that one, so none goes twice); one Kafka refuses outright (say, a record too
        large for the producer once headers are added) is logged: its row in ``rejections``
        still keeps the bytes and the reason.
        """
        pending = list(refusals)
        attempt = 0
        while pending:
            sent = [(refusal, await self._send(refusal)) for refusal in pending]
            pending = []
            for refusal, delivery in sent:
                try:
                    await delivery
                except Exception as exc:
                    if is_outage(exc):
                        pending.append(refusal)
                    else:
                        log.error("%s: not dead-lettered (%s)", refusal.source, exc)
            if pending:
                attempt = await _back_off(self._dlq, attempt, OSError("dead-letter topic"))
        for refusal in refusals:
            log.warning("dead-lettered %s: %s", refusal.source, refusal.reason)

    async def _send(self, refusal: Refusal) -> Awaitable[object]:
        """Queue one dead letter; the awaitable resolves once Kafka has it (or raises)."""
        record = refusal.record
        headers = [("reason", refusal.reason.encode()), ("source", refusal.source.encode())]
        try:
            delivery: Awaitable[object] = await self._producer.send(
                self._dlq, record.value or b"", key=record.key, headers=headers
            )
        except Exception as exc:  # refused before it was queued; judged with the others
            return _raise(exc)
        return delivery

    async def record_refusals(self, refusals: Sequence[Refusal]) -> None:
        """The refused payloads and reasons to the ``rejections`` table, in one insert, and
        their audit entries (:meth:`audit_refusal`) in the same transaction."""
        now = datetime.now(UTC)
        notes = [note for r in refusals if (note := self.audit_refusal(r)) is not None]
        rows = [
            {
                "channel": f"kafka:{r.record.topic}",
                "reason": r.reason,
                "payload": r.record.value or b"",
                "received_at": now,
            }
            for r in refusals
        ]
        attempt = 0
        while True:
            try:
                async with self._sessions.begin() as session:
                    await save_rejections(session, rows)
                    await write_audit(session, notes)
                return
            except Exception as exc:
                if not is_outage(exc):
                    log.exception("%s: %d refusals not recorded", self._topic, len(rows))
                    return
                attempt = await _back_off(self._topic, attempt, exc)


def _label(topics: Sequence[str]) -> str:
    """How log lines name the topics: ``tidegate.alerts``, or ``tidegate.tasks.events.*``."""
    if len(topics) == 1:
        return topics[0]
    shared = topics[0].split(".")
    for topic in topics[1:]:
        parts = topic.split(".")
        while shared != parts[: len(shared)]:
            shared.pop()
    return ".".join([*shared, "*"])


async def _back_off(what: str, attempt: int, exc: BaseException) -> int:
    delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
    log.warning("%s: a service is unreachable (%s); retry in %ss", what, exc, delay)
    await asyncio.sleep(delay)
    return attempt + 1


async def _raise(exc: BaseException) -> object:
    raise exc
