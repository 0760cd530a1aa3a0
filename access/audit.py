"""The audit trail: who did what, when and from where, append-only.

Every entry point writes here through :func:`record` (in the transaction of the action it
describes, where there is one) and reads through :func:`entries`; ``tidegate audit export``
and ``GET /audit`` format what :func:`entries` returns with :func:`to_csv` / :func:`to_json`.
The table refuses UPDATE and DELETE (migration 0005), so an entry once written stays.

Actions (``action``):

======================  ===========================================================
``warning.received``    a warning came in (POST /alerts); detail: decision, areas
``task.answered``       an agency answered a task (HTTP or CLI); detail: kind, by
``plan.applied``        a plan version was applied to the live response
``drill.started``       a drill was started or scheduled
``login``               a console login (password or OIDC); ``logout``
``login.failed``        a wrong password, unknown name, locked or disabled account
``token.created``       ``token.revoked``; ``user.added``; ``user.disabled``
``auth.failed``         a request with a missing, unknown, expired or revoked credential
``refused``             an authenticated principal asked for something it may not do
======================  ===========================================================
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from access.matrix import Principal
from store.models import AuditEntryRecord

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

OPERATOR = "operator"
"""Audit role of someone at the server's shell (``tidegate users``, ``tidegate tokens``)."""
SYSTEM = "system"
"""Audit role of tidegate itself (``make run`` creating the first admin)."""
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Actor:
    """Who an entry names: a principal's name and role, or an operator or system."""

    name: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor for a principal (its binding, if any, goes into the role column)."""
        bound = principal.agency or principal.district
        return cls(principal.name, principal.role.value + (f":{bound}" if bound else ""))


@dataclass(frozen=True)
class Entry:
    """One line of the audit trail as exported."""

    id: int
    at: str
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    source: str
    detail: dict[str, Any]


async def record(
    session: AsyncSession,
    actor: Actor | Principal,
    action: str,
    *,
    target: str = "",
    outcome: str = "ok",
    source: str = "",
    at: datetime | None = None,
    **detail: Any,
) -> None:
    """Append one entry (committed with the caller's transaction)."""
    who = actor if isinstance(actor, Actor) else Actor.of(actor)
    await session.execute(
        insert(AuditEntryRecord).values(
            at=at or datetime.now(UTC),
            actor=who.name[:100],
            role=who.role[:30],
            action=action,
            target=target[:400],
            outcome=outcome,
            source=source[:200],
            detail=detail,
        )
    )


async def record_now(
    sessions: async_sessionmaker[AsyncSession],
    actor: Actor | Principal,
    action: str,
    **fields: Any,
) -> None:
    """:func:`record` in a transaction of its own."""
    async with sessions.begin() as session:
        await record(session, actor, action, **fields)


async def entries(
    sessions: async_sessionmaker[AsyncSession],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[Entry]:
    """Entries in the order they were written, optionally from ``since`` (inclusive)."""
    query = select(AuditEntryRecord).order_by(AuditEntryRecord.id)
    if since is not None:
        query = query.where(AuditEntryRecord.at >= since)
    if until is not None:
        query = query.where(AuditEntryRecord.at < until)
    if limit is not None:
        query = query.limit(limit)
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [
        Entry(
            r.id,
            r.at.isoformat(),
            r.actor,
            r.role,
            r.action,
            r.target,
            r.outcome,
            r.source,
            dict(r.detail),
        )
        for r in rows
    ]


COLUMNS = ("id", "at", "actor", "role", "action", "target", "outcome", "source", "detail")


def to_csv(rows: Sequence[Entry]) -> str:
    """CSV with a header line; ``detail`` as compact JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = asdict(row)
        values["detail"] = json.dumps(row.detail, ensure_ascii=False, sort_keys=True)
        writer.writerow([values[c] for c in COLUMNS])
    return out.getvalue()


def to_json(rows: Sequence[Entry]) -> str:
    """``{"entries": [...]}``, one object per entry."""
    return json.dumps({"entries": [asdict(r) for r in rows]}, ensure_ascii=False, indent=1) + "\n"
