"""Repository functions: the only code that writes response data. Each one is idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plans.model import Plan
from store.db import insert_ignore, insert_ignore_many
from store.models import (
    AuditRecord,
    EscalationRecord,
    RejectionRecord,
    ResponseRecord,
    TaskEventRecord,
    TaskRecord,
    WarningRecord,
)
from store.plans import save_plan


async def audit(
    session: AsyncSession, key: str, response_id: str, action: str, at: datetime, **detail: Any
) -> None:
    """Append to the audit log once per key."""
    await insert_ignore(
        session,
        AuditRecord,
        {"key": key, "response_id": response_id, "action": action, "detail": detail, "at": at},
    )


async def save_response(
    session: AsyncSession, response_id: str, region: str, drill: bool, plan: Plan, at: datetime
) -> None:
    """Record the pinned plan and the response (first start wins; continue-as-new is a no-op)."""
    await save_plan(session, plan)
    added = await insert_ignore(
        session,
        ResponseRecord,
        {
            "id": response_id,
            "region": region,
            "drill": drill,
            "plan_id": plan.plan_id,
            "plan_version": plan.version,
            "plan_hash": plan.content_hash,
            "levels": {},
            "status": "active",
            "started_at": at,
            "updated_at": at,
        },
    )
    if not added:
        # Continue-as-new records the same plan again (no change); an applied plan moves on.
        await session.execute(
            update(ResponseRecord)
            .where(ResponseRecord.id == response_id)
            .values(plan_id=plan.plan_id, plan_version=plan.version, plan_hash=plan.content_hash)
        )
    await audit(
        session,
        f"{response_id}:plan:{plan.content_hash}",
        response_id,
        "response_started" if added else "plan_applied",
        at,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        plan_hash=plan.content_hash,
    )


async def save_levels(
    session: AsyncSession,
    response_id: str,
    levels: dict[str, str],
    status: str,
    key: str,
    at: datetime,
    detail: dict[str, Any],
) -> None:
    """Set the response's current levels and status, and audit the change."""
    await session.execute(
        update(ResponseRecord)
        .where(ResponseRecord.id == response_id)
        .values(levels=levels, status=status, updated_at=at)
    )
    await audit(session, key, response_id, "levels_changed", at, levels=levels, **detail)


async def save_warning(
    session: AsyncSession,
    *,
    response_id: str,
    warning_id: str,
    kind: str,
    hazard: str,
    level: str,
    areas: Sequence[str],
    status: str,
    decision: str,
    sent: datetime,
    headline: str,
    at: datetime,
    reason: str = "",
    references: Sequence[str] = (),
    warning: str = "",
    arrival: bool = True,
) -> None:
    """Store a received warning once, and each decision on it in the audit log.

    The row keeps the decision on arrival. Every decision (on arrival, on a held message's
    release or orphaning, on each re-send of the id) is one audit entry, keyed by the time it
    was taken as well, so a third copy of a message is logged like the second; a retried
    activity carries the same time and adds nothing. Intake reads these entries to tell the
    sender what became of the message (``alerts.decisions``).
    """
    await insert_ignore(
        session,
        WarningRecord,
        {
            "id": warning_id,
            "response_id": response_id,
            "kind": kind,
            "hazard": hazard,
            "level": level,
            "areas": list(areas),
            "status": status,
            "decision": decision,
            "sent": sent,
            "recorded_at": at,
            "headline": headline,
        },
    )
    await audit(
        session,
        f"{response_id}:warning:{warning_id}:{decision}:{at.isoformat()}",
        response_id,
        "warning_received",
        at,
        warning_id=warning_id,
        decision=decision,
        reason=reason,
        references=list(references),
        warning=warning,
        arrival=arrival,
    )


async def save_tasks(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Create task rows that do not exist yet; existing rows keep their state.

    Each new row gets its ``dispatched`` event; both go in as multi-row inserts.
    """
    added = await insert_ignore_many(session, TaskRecord, rows, "id")
    events = [
        {
            "key": f"{row['id']}#0",
            "task_id": row["id"],
            "kind": "dispatched",
            "detail": {"deadline_at": row["deadline_at"].isoformat()},
            "at": row["issued_at"],
        }
        for row in rows
        if row["id"] in added
    ]
    if events:
        await insert_ignore_many(session, TaskEventRecord, events, "key")


async def save_transition(
    session: AsyncSession,
    task_id: str,
    seq: int,
    state: str,
    kind: str,
    at: datetime,
    detail: dict[str, Any],
) -> None:
    """Log a task transition once, and move the task to ``state``."""
    added = await insert_ignore(
        session,
        TaskEventRecord,
        {"key": f"{task_id}#{seq}", "task_id": task_id, "kind": kind, "detail": detail, "at": at},
    )
    if added:
        await session.execute(
            update(TaskRecord).where(TaskRecord.id == task_id).values(state=state, updated_at=at)
        )


async def save_escalation(
    session: AsyncSession,
    *,
    task_id: str,
    response_id: str,
    step: int,
    kind: str,
    to: str,
    at: datetime,
) -> None:
    """Store one escalation step of one task once."""
    await insert_ignore(
        session,
        EscalationRecord,
        {
            "key": f"{task_id}#esc{step}",
            "task_id": task_id,
            "response_id": response_id,
            "kind": kind,
            "to": to,
            "at": at,
        },
    )


async def save_rejection(
    session: AsyncSession, channel: str, reason: str, payload: bytes, at: datetime
) -> None:
    """Keep refused input with its reason (rejections are never silently dropped)."""
    session.add(RejectionRecord(channel=channel, reason=reason, payload=payload, received_at=at))


async def save_rejections(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keep a batch of refused inputs (``channel``, ``reason``, ``payload``, ``received_at``).

    Multi-row ``INSERT ... VALUES (...), (...)`` statements of up to 1,000 rows (4,000 bound
    parameters, well within SQLite's and PostgreSQL's limits): a burst of refusals costs one
    statement, not one per row.
    """
    for start in range(0, len(rows), 1000):
        await session.execute(insert(RejectionRecord).values(list(rows[start : start + 1000])))


async def tracking_of(session: AsyncSession, task_ids: Sequence[str]) -> list[str]:
    """The stored tracking inputs of these tasks (rows without one are skipped), in id order."""
    rows = await session.scalars(
        select(TaskRecord.tracking)
        .where(TaskRecord.id.in_(task_ids), TaskRecord.tracking.is_not(None))
        .order_by(TaskRecord.id)
    )
    return [text for text in rows if text is not None]
