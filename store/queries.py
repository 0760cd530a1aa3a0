"""Read side for the CLI and the HTTP API: what responses are running and where tasks stand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    AuditRecord,
    EscalationRecord,
    ResponseRecord,
    TaskRecord,
    WarningRecord,
)


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


@dataclass(frozen=True)
class Decided:
    """One decision on one message, as the audit log keeps it."""

    position: int
    """The audit entry's id: entries written later have higher positions."""
    response_id: str
    warning_id: str
    """The message decided."""
    decision: str
    """The ledger's decision: ``apply``, ``duplicate``, ``stale``, ``held``, ``rejected``,
    ``orphaned`` (``plans.ledger.Decision``)."""
    reason: str
    warning: str
    """Id of the first message of the warning it was filed under ("" if none, or not known)."""
    references: tuple[str, ...]
    arrival: bool
    """False for a held message's release or orphaning; True on arrival (and on re-sends)."""
    at: datetime

    @staticmethod
    def of(row: AuditRecord) -> Decided:
        """Read a ``warning_received`` entry (entries from before reasons were kept have none)."""
        detail = row.detail
        return Decided(
            position=row.id,
            response_id=row.response_id,
            warning_id=str(detail.get("warning_id", "")),
            decision=str(detail.get("decision", "")),
            reason=str(detail.get("reason", "")),
            warning=str(detail.get("warning", "")),
            references=tuple(str(r) for r in detail.get("references", ())),
            arrival=bool(detail.get("arrival", True)),
            at=row.at,
        )


async def warning_decisions(session: AsyncSession, record: WarningRecord) -> list[Decided]:
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
    return [d for d in map(Decided.of, rows) if d.warning_id == record.id]


async def audit_position(session: AsyncSession) -> int:
    """The position of the latest audit entry (0 if none): later decisions come after it."""
    return int(await session.scalar(select(func.max(AuditRecord.id))) or 0)


async def decisions_after(
    session: AsyncSession, position: int, warning_id: str | None = None, limit: int = 1000
) -> list[Decided]:
    """Decisions logged after ``position``, oldest first; only on ``warning_id`` if given.

    Reads forward from a position in the audit log's primary key, so it touches only entries
    written since, however long the log.
    """
    query = select(AuditRecord).where(
        AuditRecord.id > position, AuditRecord.action == "warning_received"
    )
    if warning_id is not None:
        query = query.where(AuditRecord.key.contains(f":warning:{warning_id}:", autoescape=True))
    rows = await session.scalars(query.order_by(AuditRecord.id).limit(limit))
    found = [Decided.of(row) for row in rows]
    return [d for d in found if warning_id is None or d.warning_id == warning_id]


async def later_changes(session: AsyncSession, decided: Sequence[Decided]) -> list[Decided]:
    """Updates and cancels applied, after it, to the warning of the message ``decided`` is about.

    A change counts if the ledger filed it under the same warning, or if it names the message
    itself (an update naming several warnings merges them into the first one named).
    """
    if not decided:
        return []
    first = decided[0]
    warning = next((d.warning for d in reversed(decided) if d.warning), "")
    rows = await session.scalars(
        select(AuditRecord)
        .where(
            AuditRecord.response_id == first.response_id,
            AuditRecord.action == "warning_received",
            AuditRecord.id > first.position,
        )
        .order_by(AuditRecord.id)
    )
    return [
        d
        for d in map(Decided.of, rows)
        if d.decision == "apply"
        and d.warning_id != first.warning_id
        and ((warning and d.warning == warning) or first.warning_id in d.references)
    ]


async def warnings_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, WarningRecord]:
    """The stored warnings among ``ids``."""
    if not ids:
        return {}
    rows = await session.scalars(select(WarningRecord).where(WarningRecord.id.in_(list(ids))))
    return {row.id: row for row in rows}


async def held_warnings(session: AsyncSession, response_id: str) -> list[WarningRecord]:
    """Messages of a response that were held on arrival, oldest first (released ones too)."""
    rows = await session.scalars(
        select(WarningRecord)
        .where(WarningRecord.response_id == response_id, WarningRecord.decision == "held")
        .order_by(WarningRecord.recorded_at, WarningRecord.id)
    )
    return list(rows)


async def escalations(session: AsyncSession, response_id: str) -> list[EscalationRecord]:
    """Every escalation step of a response's tasks, oldest first."""
    rows = await session.scalars(
        select(EscalationRecord)
        .where(EscalationRecord.response_id == response_id)
        .order_by(EscalationRecord.at, EscalationRecord.key)
    )
    return list(rows)


async def task(session: AsyncSession, task_id: str) -> TaskRecord | None:
    """One task (one dispatch of a plan task) by id."""
    return await session.get(TaskRecord, task_id)
