"""The shared Kafka intake loop: a refusal is dead-lettered once and recorded, whatever fails."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord

from alerts import kafka
from alerts.kafka import KafkaIntake, Refused


class Flaky(KafkaIntake):
    """Refuses every payload; the DLQ and the database fail ``failures`` times each."""

    def __init__(self, failures: int) -> None:
        super().__init__(
            topic="t.alerts",
            dlq="t.alerts.dlq",
            group="g",
            bootstrap="127.0.0.1:9",
            producer=None,
            sessions=None,  # type: ignore[arg-type]
        )
        self.failures = {"dlq": failures, "db": failures}
        self.dead: list[bytes] = []
        self.recorded: list[bytes] = []

    async def process(self, payload: bytes) -> None:
        raise Refused("not a warning")

    async def dead_letter(self, payload: bytes, reason: str, record: Any) -> None:
        self._maybe_fail("dlq")
        self.dead.append(payload)

    async def record_refusal(self, payload: bytes, reason: str, record: Any) -> None:
        self._maybe_fail("db")
        self.recorded.append(payload)

    def _maybe_fail(self, what: str) -> None:
        if self.failures[what]:
            self.failures[what] -= 1
            raise ConnectionError(f"{what} is down")


def _record(value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t.alerts",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=(),
    )


@pytest.mark.parametrize("failures", [0, 2])
async def test_a_refusal_is_dead_lettered_once_and_recorded_despite_outages(
    monkeypatch: pytest.MonkeyPatch, failures: int
) -> None:
    monkeypatch.setattr(kafka, "RETRY_DELAYS", (0.0,))
    intake = Flaky(failures)
    await intake.handle(_record(b"garbage"))
    assert intake.dead == [b"garbage"]
    assert intake.recorded == [b"garbage"]
