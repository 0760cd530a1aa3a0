"""The real collaborators of the intake edges: Temporal hand-off, database look-up, rejection log.

:func:`alerts.http.create_app` takes ``submit``, ``lookup`` and ``on_reject`` as plain
callables so that its tests can inject fakes; :class:`IntakeServices` provides the real ones
(``tidegate serve`` builds it), and :func:`record_rejection` is also what the CLI uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alerts.http import SubmitResult
from alerts.route import submit
from store.queries import warning, warning_decisions
from store.records import save_rejection

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from alerts.model import Alert
    from plans.model import Plan
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

    async def submit(self, alert: Alert) -> SubmitResult:
        """Signal-with-start the region's response (or drill) workflow; durable on return."""
        routed = await submit(self.client, self.task_queue, self.region, self.plan, alert)
        return SubmitResult(routed.workflow_id, f"handed to {routed.workflow_id}")

    async def lookup(self, alert_id: str) -> dict[str, Any] | None:
        """The stored warning with its decision, or ``None`` if no workflow recorded it yet."""
        async with self.sessions() as session:
            record = await warning(session, alert_id)
            if record is None:
                return None
            decisions = await warning_decisions(session, record)
        return warning_view(record, decisions)

    async def on_reject(self, raw: bytes, reason: str, channel: str) -> None:
        """Record a payload the HTTP app refused."""
        await record_rejection(self.sessions, channel, raw, reason)


def warning_view(record: WarningRecord, decisions: list[tuple[str, datetime]]) -> dict[str, Any]:
    """The JSON form of a stored warning for ``GET /alerts/{id}``.

    ``decision`` is the ledger's decision on the message: the one taken on arrival, or, for a
    message that was held, the one taken when it was released (or orphaned). ``decisions``
    lists every decision in order, a later ``duplicate`` being a re-send of the same id.
    """
    decision = record.decision
    for later, _ in decisions[1:]:
        if decision == "held":
            decision = later
    return {
        "id": record.id,
        "response_id": record.response_id,
        "kind": record.kind,
        "status": record.status,
        "hazard": record.hazard,
        "level": record.level,
        "areas": list(record.areas),
        "headline": record.headline,
        "sent": _utc(record.sent).isoformat(),
        "recorded_at": _utc(record.recorded_at).isoformat(),
        "decision": decision,
        "decisions": [{"decision": d, "at": _utc(at).isoformat()} for d, at in decisions],
    }


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything tidegate stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
