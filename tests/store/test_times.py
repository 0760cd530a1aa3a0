"""Every stored time is an instant: written in any offset, read back aware and right (UTC).

SQLite has no time zones: before ``store.types.UTCDateTime`` it kept a datetime's wall-clock
digits and dropped the offset, so ``13:05+08:00`` came back as ``13:05`` (UTC, eight hours
off), and ordering and comparing mixed offsets went by digits. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import TypeEngine

from plans.loader import load_plan
from store import records
from store.db import create_engine, session_maker
from store.drills import drill_rows
from store.migrate import upgrade_async
from store.models import (
    AuditRecord,
    Base,
    EscalationRecord,
    PlanRecord,
    RejectionRecord,
    ResponseRecord,
    TaskEventRecord,
    TaskRecord,
    WarningRecord,
)
from store.queries import overview, warning
from store.types import UTCDateTime

SHANGHAI = timezone(timedelta(hours=8))
SENT = datetime(2026, 12, 2, 13, 5, tzinfo=SHANGHAI)
"""05:05 UTC, written with an offset whose digits (13:05) are not UTC's."""
LATER = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
"""A later instant with smaller digits: by digits it would sort first."""
RESPONSE = "resp-times"
TASK = f"{RESPONSE}/drainage.prelower@pudong"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    yield session_maker(engine)
    await engine.dispose()


async def _warning(session: AsyncSession, warning_id: str, sent: datetime) -> None:
    await records.save_warning(
        session,
        response_id=RESPONSE,
        warning_id=warning_id,
        kind="alert",
        hazard="rainstorm",
        level="blue",
        areas=["pudong"],
        status="actual",
        decision="apply",
        sent=sent,
        headline="暴雨蓝色预警",
        at=sent,
    )


async def _write_every_table(sessions: async_sessionmaker[AsyncSession]) -> None:
    """One row in every table with a time, each time ``SENT``, through the real writers."""
    async with sessions.begin() as session:
        await records.save_response(session, RESPONSE, "pudong", True, load_plan(), SENT)
        await records.save_levels(session, RESPONSE, {"pudong": "IV"}, "active", "lv1", SENT, {})
        await _warning(session, "W-1", SENT)
        task = {
            "id": TASK,
            "response_id": RESPONSE,
            "plan_task_id": "drainage.prelower@pudong",
            "action_id": "drainage.prelower",
            "agency": "drainage",
            "area": "pudong",
            "asset": None,
            "hazard": "rainstorm",
            "response_level": "IV",
            "state": "dispatched",
            "drill": True,
            "plan_version": "1",
            "issued_at": SENT,
            "deadline_at": SENT,
            "updated_at": SENT,
        }
        await records.save_tasks(session, [task])
        await records.save_transition(session, TASK, 1, "acknowledged", "ack", SENT, {})
        await records.save_escalation(
            session, task_id=TASK, response_id=RESPONSE, step=0, kind="reminder", to="x", at=SENT
        )
        await records.save_rejection(session, "http", "syntax: not JSON", b"x", SENT)


WRITTEN = (
    PlanRecord.__table__,
    ResponseRecord.__table__,
    WarningRecord.__table__,
    TaskRecord.__table__,
    TaskEventRecord.__table__,
    EscalationRecord.__table__,
    AuditRecord.__table__,
    RejectionRecord.__table__,
)
"""The tables :func:`_write_every_table` fills (the access tables are tests/access's)."""


def _holds_datetimes(column_type: TypeEngine[Any]) -> bool:
    try:
        return column_type.python_type is datetime
    except NotImplementedError:
        return False


def _is_utc_instant(value: object, instant: datetime) -> bool:
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0) and value == instant


async def test_every_datetime_column_keeps_the_instant(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_every_table(sessions)
    columns = [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if _holds_datetimes(column.type)
    ]
    assert all(isinstance(column.type, UTCDateTime) for column in columns), columns
    async with sessions() as session:
        for column in columns:
            values = list(await session.scalars(select(column)))
            if not any(column.table is table for table in WRITTEN):
                continue  # accounts, tokens, sessions, audit: tests/access round-trips them
            assert values, column
            if column is PlanRecord.__table__.c.recorded_at:  # the time it was saved
                assert all(v.utcoffset() == timedelta(0) for v in values)
                continue
            assert all(_is_utc_instant(v, SENT) for v in values), (column, values)


async def test_every_read_path_returns_aware_times(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_every_table(sessions)
    async with sessions() as session:
        found = await warning(session, "W-1")
        assert found is not None
        assert _is_utc_instant(found.sent, SENT) and _is_utc_instant(found.recorded_at, SENT)
        assert found.sent.isoformat() == "2026-12-02T05:05:00+00:00"

        (shown,) = await overview(session, drill=True)
        assert _is_utc_instant(shown.response.started_at, SENT)
        assert _is_utc_instant(shown.response.updated_at, SENT)
        assert all(
            _is_utc_instant(t.issued_at, SENT) and _is_utc_instant(t.deadline_at, SENT)
            for t in shown.tasks
        )

        rows = await drill_rows(session, RESPONSE)
        times = [
            *(row.at for row in rows.levels),
            *(row.sent for row in rows.warnings),
            *(row.updated_at for row in rows.tasks),
            *(row.at for row in rows.events),
            *(row.at for row in rows.escalations),
        ]
        assert len(times) == 6
        assert all(_is_utc_instant(at, SENT) for at in times), times


async def test_ordering_and_comparison_go_by_instant_not_by_digits(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await _warning(session, "LATER", LATER)
        await _warning(session, "EARLIER", SENT)
    async with sessions() as session:
        ordered = await session.scalars(select(WarningRecord.id).order_by(WarningRecord.sent))
        assert list(ordered) == ["EARLIER", "LATER"]
        between = datetime(2026, 12, 2, 13, 30, tzinfo=SHANGHAI)  # 05:30 UTC
        after = await session.scalars(select(WarningRecord.id).where(WarningRecord.sent > between))
        assert list(after) == ["LATER"]
        same = await session.scalars(
            select(WarningRecord.id).where(WarningRecord.sent == SENT.astimezone(UTC))
        )
        assert list(same) == ["EARLIER"]


async def test_a_naive_time_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(StatementError, match="naive datetime 2026-12-02T13:05:00"):
        async with sessions.begin() as session:
            await _warning(session, "NAIVE", SENT.replace(tzinfo=None))
