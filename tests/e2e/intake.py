"""Helpers for the intake end-to-end tests: current warnings, Kafka in and out, database rows."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase

from config.kafka import client_options
from config.settings import Settings
from plans.loader import load_plan
from plans.model import ActiveWarning, Plan, Task
from plans.rules import respond
from store.db import create_engine, session_maker
from store.models import AuditRecord, RejectionRecord, WarningRecord
from tests.alerts.factories import cap_payload, document, info

PLAN = load_plan()
SHANGHAI = timezone(timedelta(hours=8))
_M = TypeVar("_M", bound=DeclarativeBase)


def ago(seconds: float = 0.0) -> datetime:
    """Now (minus ``seconds``) in Shanghai time, whole seconds as CAP wants them."""
    return (
        (datetime.now(UTC) - timedelta(seconds=seconds)).astimezone(SHANGHAI).replace(microsecond=0)
    )


def json_alert(alert_id: str, *, sent: datetime | None = None, **fields: Any) -> bytes:
    """A current JSON-form warning (blue tide in Jinshan unless ``fields`` say otherwise)."""
    base: dict[str, Any] = {
        "id": alert_id,
        "sent": (sent or ago()).isoformat(),
        "hazard": "tide",
        "level": "blue",
        "areas": ["金山区"],
        "headline": f"warning {alert_id}",
        "expires": None,
    }
    return json.dumps(document(**(base | fields)), ensure_ascii=False).encode()


def cap_alert(
    identifier: str,
    *,
    event: str = "暴雨蓝色预警",
    area: str = "奉贤区",
    status: str = "Actual",
    sent: datetime | None = None,
) -> bytes:
    """A current CAP 1.2 warning (blue rainstorm in Fengxian unless told otherwise).

    The headline names the identifier, so two of them never have the same content.
    """
    block = info(
        event=event,
        extra=f"<headline>warning {identifier}</headline>",
        areas=f"<area><areaDesc>{area}</areaDesc></area>",
    )
    return cap_payload(
        identifier=identifier, sent=(sent or ago()).isoformat(), status=status, infos=[block]
    )


def tasks_for(*warnings: ActiveWarning, plan: Plan = PLAN) -> tuple[Task, ...]:
    """What the plan dispatches for these warnings together."""
    return respond(list(warnings), plan).tasks


async def produce(settings: Settings, payloads: Iterable[bytes], topic: str | None = None) -> None:
    """Send ``payloads`` in order to ``topic`` (default: the settings' alert topic)."""
    producer = AIOKafkaProducer(
        **client_options(settings),
        enable_idempotence=True,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        target = topic or settings.topic("alerts")
        for payload in payloads:
            await producer.send(target, payload)
        await producer.flush()
    finally:
        await producer.stop()


async def read(
    settings: Settings, topics: Sequence[str], count: int, within: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topics`` from the start until ``count`` records arrived or ``within`` passed."""
    consumer = AIOKafkaConsumer(
        *topics,
        **client_options(settings),
        auto_offset_reset="earliest",
        group_id=None,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + within
    try:
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                found.extend(records)
    finally:
        await consumer.stop()
    return found


async def rows(settings: Settings, model: type[_M]) -> list[_M]:
    """Every row of ``model``'s table."""
    engine = create_engine(settings.db_url)
    try:
        async with session_maker(engine)() as session:
            return list((await session.scalars(select(model))).all())
    finally:
        await engine.dispose()


async def warnings(settings: Settings) -> dict[str, WarningRecord]:
    """The ``warnings`` table by id."""
    return {row.id: row for row in await rows(settings, WarningRecord)}


async def rejections(settings: Settings) -> list[RejectionRecord]:
    """The ``rejections`` table in arrival order."""
    return sorted(await rows(settings, RejectionRecord), key=lambda r: r.id)


async def decisions(settings: Settings) -> dict[str, list[str]]:
    """Every decision taken on each warning id, in order (from the audit log)."""
    found: dict[str, list[str]] = {}
    audit = sorted(await rows(settings, AuditRecord), key=lambda r: r.id)
    for row in audit:
        if row.action == "warning_received":
            found.setdefault(row.detail["warning_id"], []).append(row.detail["decision"])
    return found


def headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    """A record's headers as text."""
    return {name: value.decode() for name, value in record.headers}
