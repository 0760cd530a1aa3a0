"""The real collaborators of the intake edges: Temporal hand-off, database look-up, rejection log.

:func:`alerts.http.create_app` takes ``submit``, ``lookup`` and ``on_reject`` as plain
callables so that its tests can inject fakes; :class:`IntakeServices` provides the real ones
(``tidegate serve`` builds it), and :func:`record_rejection` is also what the CLI uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alerts.decisions import hand_over, standing
from alerts.http import SubmitResult
from store.queries import (
    Decided,
    later_changes,
    warning,
    warning_decisions,
    warnings_by_id,
)
from store.records import save_rejection

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from plans.model import Plan
    from plans.warning import Alert
    from store.models import WarningRecord


async def record_rejection(
    sessions: async_sessionmaker[AsyncSession], channel: str, raw: bytes, reason: str
) -> None:
    """Keep a refused payload and why, in the ``rejections`` table (raises if the DB is down)."""
    async with sessions.begin() as session:
        await save_rejection(session, channel, reason, raw, datetime.now(UTC))


@dataclass(frozen=True)
class IntakeServices:
    """``submit``, ``lookup`` and ``on_reject`` for the HTTP app, over the real services."""

    client: Client
    sessions: async_sessionmaker[AsyncSession]
    plan: Plan
    task_queue: str
    region: str
    decision_wait: float = 5.0
    """Seconds ``submit`` waits for the response's decision before answering ``pending``."""

    async def submit(self, alert: Alert) -> SubmitResult:
        """Signal-with-start the region's response (or drill) workflow, then await its decision.

        Durable once the signal-with-start returned, whatever the wait then finds.
        """
        got = await hand_over(
            self.client,
            self.sessions,
            self.task_queue,
            self.region,
            self.plan,
            alert,
            self.decision_wait,
        )
        return SubmitResult(
            got.workflow_id,
            f"handed to {got.workflow_id}",
            got.decision,
            got.reason,
            got.response_id,
            got.warning,
            got.decided_at.isoformat() if got.decided_at else None,
        )

    async def lookup(self, alert_id: str) -> dict[str, Any] | None:
        """The stored warning with its decision, or ``None`` if no workflow recorded it yet."""
        return await lookup_warning(self.sessions, alert_id)

    async def on_reject(self, raw: bytes, reason: str, channel: str) -> None:
        """Record a payload the HTTP app refused."""
        await record_rejection(self.sessions, channel, raw, reason)


async def lookup_warning(
    sessions: async_sessionmaker[AsyncSession], alert_id: str
) -> dict[str, Any] | None:
    """:func:`warning_view` of a stored message, or ``None`` if no workflow recorded it yet."""
    async with sessions() as session:
        record = await warning(session, alert_id)
        if record is None:
            return None
        decisions = await warning_decisions(session, record)
        changes = await later_changes(session, decisions)
        messages = await warnings_by_id(session, [c.warning_id for c in changes])
    return warning_view(record, decisions, [(c, messages.get(c.warning_id)) for c in changes])


def warning_view(
    record: WarningRecord,
    decisions: Sequence[Decided],
    changes: Sequence[tuple[Decided, WarningRecord | None]] = (),
) -> dict[str, Any]:
    """The JSON form of a stored warning for ``GET /alerts/{id}`` and ``tidegate alert show``.

    ``decision`` and ``reason`` are those of the decision that stands (:func:`standing`);
    ``decisions`` lists every decision in order, a later ``duplicate`` on arrival being a
    re-send of the same id. ``changed_by`` lists the updates and cancels applied to the
    message's warning after it, and ``effect`` says the same in words.
    """
    stands = standing(decisions)
    changed_by = [
        {
            "id": change.warning_id,
            "kind": message.kind if message else None,
            "hazard": message.hazard if message else None,
            "level": message.level if message else None,
            "areas": list(message.areas) if message else None,
            "at": change.at.isoformat(),
        }
        for change, message in changes
    ]
    return {
        "id": record.id,
        "response_id": record.response_id,
        "kind": record.kind,
        "status": record.status,
        "hazard": record.hazard,
        "level": record.level,
        "areas": list(record.areas),
        "headline": record.headline,
        "sent": record.sent.isoformat(),
        "recorded_at": record.recorded_at.isoformat(),
        "references": list(decisions[0].references) if decisions else [],
        "warning": next((d.warning for d in reversed(decisions) if d.warning), None),
        "decision": stands.decision if stands else record.decision,
        "reason": stands.reason if stands else "",
        "decisions": [
            {"decision": d.decision, "reason": d.reason, "at": d.at.isoformat()} for d in decisions
        ],
        "changed_by": changed_by,
        "effect": "; ".join(_effect(c) for c in changed_by),
    }


def _effect(change: dict[str, Any]) -> str:
    verb = {"cancel": "cancelled", "update": "updated"}.get(change["kind"] or "", "changed")
    return f"{verb} by {change['id']} at {change['at']}"
