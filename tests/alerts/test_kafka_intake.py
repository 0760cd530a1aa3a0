"""The shared Kafka intake loop, with the broker and the database replaced by fakes.

- a refusal is dead-lettered once and recorded, whatever fails on the way;
- a message that breaks a layer behind intake (not an outage) is refused, never retried;
- an outage is retried, and holds up only its own partition;
- a batch keeps each partition's order and records its refusals with one insert.

The same loop on the real Kafka, Temporal and database: ``tests/e2e/test_event_intake.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from sqlalchemy.exc import OperationalError
from temporalio.service import RPCError, RPCStatusCode

from alerts import kafka
from alerts.kafka import KafkaIntake, Refused


class FakeProducer:
    """Accepts dead letters; the first ``failures`` deliveries fail as if Kafka were down."""

    def __init__(self, failures: int = 0, too_large: Sequence[bytes] = ()) -> None:
        self.failures = failures
        self.too_large = set(too_large)
        self.sent: list[tuple[str, bytes, bytes | None, dict[str, str]]] = []

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = ()
    ) -> asyncio.Future[None]:
        if value in self.too_large:
            raise MessageSizeTooLargeError()
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            delivery.set_exception(KafkaConnectionError("broker down"))
        else:
            self.sent.append((topic, value, key, {k: v.decode() for k, v in headers}))
            delivery.set_result(None)
        return delivery


class FakeSessions:
    """``sessions.begin()`` that fails ``failures`` times as if the database were down."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        if self.failures:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        yield None


class Intake(KafkaIntake):
    """Runs ``behaviour`` for each payload; remembers what it handled, in order."""

    def __init__(
        self,
        behaviour: Callable[[bytes], Any],
        producer: FakeProducer | None = None,
        sessions: FakeSessions | None = None,
    ) -> None:
        super().__init__(
            topics=["t.in"],
            dlq="t.in.dlq",
            group="g",
            client={"bootstrap_servers": "127.0.0.1:9"},
            producer=producer or FakeProducer(),
            sessions=sessions or FakeSessions(),  # type: ignore[arg-type]
        )
        self.behaviour = behaviour
        self.handled: list[bytes] = []

    async def process(self, payload: bytes, topic: str, *, origin: str) -> None:
        assert topic == "t.in"
        result = self.behaviour(payload)
        if asyncio.iscoroutine(result):
            await result
        self.handled.append(payload)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """Retry at once, and capture what would go to the ``rejections`` table, per insert."""
    monkeypatch.setattr(kafka, "RETRY_DELAYS", (0.0,))
    inserts: list[list[dict[str, Any]]] = []

    async def save_rejections(session: object, rows: Sequence[dict[str, Any]]) -> None:
        inserts.append(list(rows))

    monkeypatch.setattr(kafka, "save_rejections", save_rejections)
    return inserts


def record(value: bytes, offset: int = 7, partition: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t.in",
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=[],
    )


def refuse_bad(payload: bytes) -> None:
    if payload.startswith(b"bad"):
        raise Refused(f"{payload.decode()} is not a warning")


@pytest.mark.parametrize("failures", [0, 2])
async def test_a_refusal_is_dead_lettered_once_and_recorded_despite_outages(
    no_backoff: list[list[dict[str, Any]]], failures: int
) -> None:
    producer, sessions = FakeProducer(failures), FakeSessions(failures)
    intake = Intake(refuse_bad, producer, sessions)
    await intake.handle_batch([record(b"bad one")])
    assert producer.sent == [
        ("t.in.dlq", b"bad one", b"k", {"reason": "bad one is not a warning", "source": "t.in:0:7"})
    ]
    assert [[(r["channel"], r["reason"], r["payload"]) for r in rows] for rows in no_backoff] == [
        [("kafka:t.in", "bad one is not a warning", b"bad one")]
    ]


async def test_a_message_that_breaks_a_layer_behind_intake_is_refused_not_retried(
    no_backoff: list[list[dict[str, Any]]],
) -> None:
    """Issue #9 item 3: the lone surrogate that made delivery raise UnicodeEncodeError forever."""
    attempts: list[bytes] = []

    def deliver(payload: bytes) -> None:
        attempts.append(payload)
        payload.decode("utf-8", "surrogatepass").encode("utf-8")  # what gRPC does to an id

    producer = FakeProducer()
    intake = Intake(deliver, producer)
    poison = '{"task_id": "x/\ud800"}'.encode("utf-8", "surrogatepass")
    await intake.handle_batch([record(poison, 1), record(b"good", 2)])
    assert attempts == [poison, b"good"]
    assert intake.handled == [b"good"]
    ((_, value, _, headers),) = producer.sent
    assert value == poison
    assert headers["reason"].startswith("cannot be handled (UnicodeEncodeError: ")
    assert headers["source"] == "t.in:0:1"
    assert no_backoff[0][0]["reason"] == headers["reason"]


async def test_an_outage_is_retried_until_the_message_goes_through() -> None:
    outages = [RPCError("down", RPCStatusCode.UNAVAILABLE, b""), ConnectionResetError()]

    def flaky(payload: bytes) -> None:
        if outages:
            raise outages.pop()

    producer = FakeProducer()
    intake = Intake(flaky, producer)
    await intake.handle_batch([record(b"good")])
    assert intake.handled == [b"good"]
    assert producer.sent == []


async def test_an_outage_holds_up_its_own_partition_only() -> None:
    """Partition 0 waits for Temporal; partition 1 is handled meanwhile (else: deadlock)."""
    back = asyncio.Event()

    async def behaviour(payload: bytes) -> None:
        if payload == b"p1":
            back.set()
        elif not back.is_set():
            raise ConnectionRefusedError("Temporal is down")

    intake = Intake(behaviour)
    batch = [record(b"p0", 1, partition=0), record(b"p1", 1, partition=1)]
    await asyncio.wait_for(intake.handle_batch(batch), timeout=30)
    assert sorted(intake.handled) == [b"p0", b"p1"]


async def test_a_batch_keeps_partition_order_and_records_refusals_in_one_insert(
    no_backoff: list[list[dict[str, Any]]],
) -> None:
    producer = FakeProducer()
    intake = Intake(refuse_bad, producer)
    payloads = [b"bad 0", b"good 1", b"bad 2", b"bad 3", b"good 4", b"good 5", b"bad 6"]
    batch = [record(p, offset) for offset, p in enumerate(payloads)]
    batch += [record(b"good on 1", 0, partition=1), record(b"bad on 1", 1, partition=1)]
    await intake.handle_batch(batch)
    assert [p for p in intake.handled if b"on 1" not in p] == [b"good 1", b"good 4", b"good 5"]
    assert [value for _, value, _, _ in producer.sent] == [
        b"bad 0",
        b"bad 2",
        b"bad 3",
        b"bad 6",
        b"bad on 1",
    ]
    assert len(no_backoff) == 1
    assert [row["payload"] for row in no_backoff[0]] == [v for _, v, _, _ in producer.sent]


async def test_a_dead_letter_kafka_will_never_take_is_still_recorded(
    no_backoff: list[list[dict[str, Any]]],
) -> None:
    producer = FakeProducer(too_large=[b"bad and huge"])
    intake = Intake(refuse_bad, producer)
    await intake.handle_batch([record(b"bad and huge", 1), record(b"bad", 2)])
    assert [value for _, value, _, _ in producer.sent] == [b"bad"]
    assert [row["payload"] for row in no_backoff[0]] == [b"bad and huge", b"bad"]


async def test_refusal_reasons_are_safe_to_store() -> None:
    reason = Refused("task_id: no task 'x/\ud800\x00'").reason
    reason.encode("utf-8")
    assert "\x00" not in reason
