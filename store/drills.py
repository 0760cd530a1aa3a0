"""Read side for drill reports, and the one write a drill makes itself: ending its response.

Everything a drill reports comes from the rows its response wrote (levels and HQ decisions in
the audit log, tasks, task events, escalations, warnings), selected by the drill's response id.
Timestamps are service time: virtual time for ``--fast`` drills.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    AuditRecord,
    EscalationRecord,
    ResponseRecord,
    TaskEventRecord,
    TaskRecord,
    WarningRecord,
)
from store.records import audit


@dataclass(frozen=True)
class DrillRows:
    """Everything one drill's response recorded."""

    response: ResponseRecord | None
    levels: Sequence[AuditRecord]
    """``levels_changed`` audit rows, oldest first."""
    warnings: Sequence[WarningRecord]
    tasks: Sequence[TaskRecord]
    events: Sequence[TaskEventRecord]
    """Task transitions, oldest first."""
    escalations: Sequence[EscalationRecord]
    hq_decisions: Sequence[AuditRecord] = ()
    """``hq_decision`` audit rows (each HQ decision and its outcome), oldest first."""


def utc(moment: datetime) -> datetime:
    """A time as UTC. Rows are read back aware already (``store.types.UTCDateTime``); this
    keeps naive times from elsewhere (read as UTC) comparable with them."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def drill_responses(session: AsyncSession, region: str) -> list[ResponseRecord]:
    """The responses a drill's region started, oldest first (each drill has its own region).

    Usually one; a storm whose warnings all end while every task is closed, and which then
    warns again, gets a second response, as a live region would.
    """
    query = select(ResponseRecord).where(ResponseRecord.region == region)
    return list((await session.scalars(query.order_by(ResponseRecord.started_at))).all())


async def drill_state(session: AsyncSession, region: str) -> tuple[dict[str, str], set[str]]:
    """The newest response of a drill's region: its levels and the ids of its tasks."""
    responses = await drill_responses(session, region)
    if not responses:
        return {}, set()
    latest = responses[-1]
    await session.refresh(latest)
    ids = await session.scalars(select(TaskRecord.id).where(TaskRecord.response_id == latest.id))
    return {str(a): str(v) for a, v in latest.levels.items()}, set(ids.all())


async def drill_rows(session: AsyncSession, response_id: str) -> DrillRows:
    """Load every row of one response, for the after-action report."""
    response = await session.get(ResponseRecord, response_id)
    levels = await session.scalars(
        select(AuditRecord)
        .where(AuditRecord.response_id == response_id, AuditRecord.action == "levels_changed")
        .order_by(AuditRecord.at, AuditRecord.id)
    )
    warnings = await session.scalars(
        select(WarningRecord)
        .where(WarningRecord.response_id == response_id)
        .order_by(WarningRecord.recorded_at)
    )
    tasks = (
        await session.scalars(
            select(TaskRecord).where(TaskRecord.response_id == response_id).order_by(TaskRecord.id)
        )
    ).all()
    events = await session.scalars(
        select(TaskEventRecord)
        .join(TaskRecord, TaskRecord.id == TaskEventRecord.task_id)
        .where(TaskRecord.response_id == response_id)
        .order_by(TaskEventRecord.at, TaskEventRecord.id)
    )
    escalations = await session.scalars(
        select(EscalationRecord)
        .where(EscalationRecord.response_id == response_id)
        .order_by(EscalationRecord.at)
    )
    hq = await session.scalars(
        select(AuditRecord)
        .where(AuditRecord.response_id == response_id, AuditRecord.action == "hq_decision")
        .order_by(AuditRecord.id)
    )
    return DrillRows(
        response=response,
        levels=levels.all(),
        warnings=warnings.all(),
        tasks=tasks,
        events=events.all(),
        escalations=escalations.all(),
        hq_decisions=hq.all(),
    )


async def open_task_ids(
    session: AsyncSession, response_id: str, open_states: Sequence[str]
) -> list[str]:
    """Ids of the response's tasks still in one of ``open_states``."""
    query = select(TaskRecord.id).where(
        TaskRecord.response_id == response_id, TaskRecord.state.in_(open_states)
    )
    return list((await session.scalars(query.order_by(TaskRecord.id))).all())


async def end_drill(session: AsyncSession, response_id: str, at: datetime, **detail: Any) -> None:
    """Mark a drill's response closed when the drill stops it (once per response)."""
    await session.execute(
        update(ResponseRecord)
        .where(ResponseRecord.id == response_id, ResponseRecord.status != "closed")
        .values(status="closed", updated_at=at)
    )
    await audit(session, f"{response_id}:drill_ended", response_id, "drill_ended", at, **detail)
