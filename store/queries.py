"""Read side for the CLI and the HTTP API: what responses are running and where tasks stand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AuditRecord, ResponseRecord, TaskRecord, WarningRecord


@dataclass(frozen=True)
class ResponseOverview:
    """A response with its tasks, as ``tidegate status`` shows it."""

    response: ResponseRecord
    tasks: Sequence[TaskRecord]


async def overview(
    session: AsyncSession, *, include_closed: bool = False, drill: bool | None = None
) -> list[ResponseOverview]:
    """Responses (newest first) with their tasks ordered by agency, area and id."""
    query = select(ResponseRecord).order_by(ResponseRecord.started_at.desc())
    if not include_closed:
        query = query.where(ResponseRecord.status != "closed")
    if drill is not None:
        query = query.where(ResponseRecord.drill == drill)
    responses = (await session.scalars(query)).all()
    result = []
    for response in responses:
        tasks = (
            await session.scalars(
                select(TaskRecord)
                .where(TaskRecord.response_id == response.id)
                .order_by(TaskRecord.agency, TaskRecord.area, TaskRecord.id)
            )
        ).all()
        result.append(ResponseOverview(response, tasks))
    return result


async def warning(session: AsyncSession, warning_id: str) -> WarningRecord | None:
    """One received warning by id."""
    return await session.get(WarningRecord, warning_id)


async def warning_decisions(
    session: AsyncSession, record: WarningRecord
) -> list[tuple[str, datetime]]:
    """Every decision taken on a warning, oldest first, from the audit log.

    The ``warnings`` row keeps the decision on arrival; a held message's later release (or
    orphaning) and a re-send of the same id are only in the audit log.
    """
    prefix = f"{record.response_id}:warning:{record.id}:"
    rows = await session.scalars(
        select(AuditRecord)
        .where(
            AuditRecord.response_id == record.response_id,
            AuditRecord.action == "warning_received",
            AuditRecord.key.startswith(prefix, autoescape=True),
        )
        .order_by(AuditRecord.id)
    )
    return [(str(row.detail.get("decision", "")), row.at) for row in rows]
