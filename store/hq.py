"""Read side of the HQ's decisions: what the response logged about each, and where it stands.

The response workflow logs every HQ decision with the outcome its ledger gave
(``hq_decision`` entries of the audit log, written by ``record_hq_decision``) and every level
change with the automatic levels beside the effective ones (``levels_changed``). Intake reads
these to tell a sender what became of a decision (:func:`hq_outcomes_after`) and to list the
declarations in force (:func:`hq_log` of the :func:`live_response`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AuditRecord, ResponseRecord

HQ_DECISION = "hq_decision"
"""The audit log's action for an HQ decision and its outcome."""


@dataclass(frozen=True)
class HqOutcome:
    """One logged HQ decision and what the response's ledger made of it."""

    position: int
    """The audit entry's id: entries written later have higher positions."""
    response_id: str
    decision_id: str
    outcome: str
    """``apply``, ``duplicate``, ``stale`` or ``rejected`` (``plans.hq.HqOutcome``)."""
    reason: str
    at: datetime
    detail: dict[str, Any]
    """The decision as logged: kind, level, areas, hazards, references, decided_by, reason,
    sent (ISO 8601)."""

    @staticmethod
    def of(row: AuditRecord) -> HqOutcome:
        """Read an ``hq_decision`` entry."""
        detail = dict(row.detail)
        return HqOutcome(
            position=row.id,
            response_id=row.response_id,
            decision_id=str(detail.get("decision_id", "")),
            outcome=str(detail.get("outcome", "")),
            reason=str(detail.get("outcome_reason", "")),
            at=row.at,
            detail=detail,
        )


async def hq_outcomes_after(
    session: AsyncSession, position: int, decision_id: str
) -> list[HqOutcome]:
    """Outcomes logged on ``decision_id`` after ``position``, oldest first."""
    rows = await session.scalars(
        select(AuditRecord)
        .where(
            AuditRecord.id > position,
            AuditRecord.action == HQ_DECISION,
            AuditRecord.key.contains(f":hq:{decision_id}:", autoescape=True),
        )
        .order_by(AuditRecord.id)
    )
    return [o for o in map(HqOutcome.of, rows) if o.decision_id == decision_id]


async def live_response(session: AsyncSession, region: str) -> ResponseRecord | None:
    """The region's live response that is not closed, newest first, or ``None``."""
    query = (
        select(ResponseRecord)
        .where(
            ResponseRecord.region == region,
            ResponseRecord.drill.is_(False),
            ResponseRecord.status != "closed",
        )
        .order_by(ResponseRecord.started_at.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def hq_log(session: AsyncSession, response_id: str) -> Sequence[HqOutcome]:
    """Every HQ decision the response logged, in the order its ledger took them."""
    rows = await session.scalars(
        select(AuditRecord)
        .where(AuditRecord.response_id == response_id, AuditRecord.action == HQ_DECISION)
        .order_by(AuditRecord.id)
    )
    return [HqOutcome.of(row) for row in rows]


async def latest_levels(session: AsyncSession, response_id: str) -> dict[str, Any]:
    """The detail of the response's latest ``levels_changed`` entry (``{}`` if none)."""
    row = (
        await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.response_id == response_id, AuditRecord.action == "levels_changed")
            .order_by(AuditRecord.id.desc())
            .limit(1)
        )
    ).first()
    return dict(row.detail) if row is not None else {}
