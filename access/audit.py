"""The audit trail: who did what, when and from where, append-only.

Every audit entry tidegate writes is made here: each way in (HTTP, the console, the CLI, the
Kafka intakes) describes its action with one of the ``*_note`` functions below and appends it
with :func:`write` (in the transaction of the action, where there is one) or
:func:`write_now`; :func:`authorize_audited` asks the matrix and records a refusal. So a
warning reads the same in the trail whichever channel brought it. ``tidegate audit export``
and ``GET /audit`` format what :func:`entries` returns with :func:`to_csv` / :func:`to_json`.
The table refuses UPDATE and DELETE (migration 0005), so an entry once written stays.

Actions (``action``):

======================  ===========================================================
``warning.received``    a warning came in (HTTP, CLI, Kafka); detail: decision, areas
``task.answered``       an agency answered a task (HTTP, CLI, Kafka); detail: kind, by
``plan.applied``        a plan version was applied to a response (``tidegate plan apply``)
``drill.started``       a drill was started (``tidegate drill run``, or a scheduled one)
``drill.scheduled``     a recurring drill was scheduled; ``drill.unscheduled``: removed
``login``               a console login (password or OIDC); ``logout``
``login.failed``        a wrong password, unknown name, locked or disabled account
``token.created``       ``token.revoked``; ``user.added``; ``user.disabled``
``auth.failed``         a request with an unknown, expired or revoked credential
``refused``             an authenticated principal asked for something it may not do
======================  ===========================================================

An action that may be seen twice (a Kafka record read again after a crash) carries a
``key``: a second entry with the same key is not written (column ``dedup_key``, unique).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from access.matrix import Forbidden, Permission, Principal, authorize
from store.db import insert_ignore
from store.models import AuditEntryRecord

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from plans.warning import Alert

log = logging.getLogger("tidegate.access")

OPERATOR = "operator"
"""Audit role of someone at the server's shell (``tidegate users``, ``tidegate tokens``)."""
SYSTEM = "system"
"""Audit role of tidegate itself (``make run`` creating the first admin)."""
ANONYMOUS = "anonymous"
FEED = "feed"
"""Audit role of a warning feed known only by the Kafka topic it writes to."""
MAX_REASON_CHARS = 500


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
class Note:
    """One entry to append: who, what, on what, how it went, from where."""

    actor: Actor
    action: str
    target: str = ""
    outcome: str = "ok"
    """``ok``, ``refused`` (not allowed) or ``failed`` (allowed, but it did not happen)."""
    source: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None
    """Set for an action that may be seen twice: the second note of a key is not written."""
    at: datetime | None = None

    def row(self) -> dict[str, Any]:
        """The ``audit_trail`` row (columns cut to their lengths)."""
        return {
            "at": self.at or datetime.now(UTC),
            "actor": self.actor.name[:100],
            "role": self.actor.role[:30],
            "action": self.action,
            "target": self.target[:400],
            "outcome": self.outcome,
            "source": self.source[:200],
            "detail": dict(self.detail),
            "dedup_key": self.key[:200] if self.key else None,
        }


def _actor(who: Actor | Principal) -> Actor:
    return who if isinstance(who, Actor) else Actor.of(who)


async def write(session: AsyncSession, notes: Iterable[Note]) -> None:
    """Append ``notes`` (committed with the caller's transaction); a known key is skipped."""
    plain = []
    for note in notes:
        if note.key is None:
            plain.append(note.row())
        else:
            await insert_ignore(session, AuditEntryRecord, note.row())
    if plain:
        await session.execute(insert(AuditEntryRecord), plain)


async def write_now(sessions: async_sessionmaker[AsyncSession] | None, *notes: Note) -> None:
    """:func:`write` in a transaction of its own; with no database (``None``: an app that
    knows only the development token, in unit tests of routes) the notes are only logged."""
    if sessions is None:
        for note in notes:
            log.info("audit: %s %s %s", note.actor, note.action, note.outcome)
        return
    async with sessions.begin() as session:
        await write(session, notes)


async def record(
    session: AsyncSession,
    actor: Actor | Principal,
    action: str,
    *,
    target: str = "",
    outcome: str = "ok",
    source: str = "",
    at: datetime | None = None,
    key: str | None = None,
    **detail: Any,
) -> None:
    """Append one entry (committed with the caller's transaction)."""
    note = Note(_actor(actor), action, target, outcome, source, detail, key, at)
    await write(session, [note])


async def record_now(
    sessions: async_sessionmaker[AsyncSession] | None,
    actor: Actor | Principal,
    action: str,
    **fields: Any,
) -> None:
    """:func:`record` in a transaction of its own (only logged without a database)."""
    if sessions is None:
        log.info("audit: %s %s %s", actor, action, fields.get("outcome", "ok"))
        return
    async with sessions.begin() as session:
        await record(session, actor, action, **fields)


# -- what each action records, whichever way it came in -----------------------------------
def warning_note(
    actor: Actor | Principal,
    *,
    source: str,
    alert: Alert | None,
    outcome: str = "ok",
    decision: str | None = None,
    reason: str | None = None,
    key: str | None = None,
    **extra: Any,
) -> Note:
    """A warning came in: what it said (if it could be read) and what became of it."""
    detail: dict[str, Any] = {}
    if alert is not None and outcome == "ok":
        detail = {
            "kind": alert.kind.value,
            "hazard": alert.hazard.value,
            "level": alert.level.value,
            "areas": list(alert.areas),
        }
    if decision is not None:
        detail["decision"] = decision
    if reason:
        detail["reason"] = reason[:MAX_REASON_CHARS]
    target = alert.id if alert is not None else ""
    return Note(_actor(actor), "warning.received", target, outcome, source, detail | extra, key)


def answer_note(
    actor: Actor | Principal,
    *,
    source: str,
    task_id: str,
    kind: str,
    outcome: str = "ok",
    by: str | None = None,
    agency: str | None = None,
    reason: str | None = None,
    key: str | None = None,
) -> Note:
    """An agency answered a task (delivered, or ``failed``: malformed, unknown, closed)."""
    detail: dict[str, Any] = {"kind": kind}
    if outcome == "ok":
        detail |= {"by": by, "agency": agency}
    if reason:
        detail["reason"] = reason[:MAX_REASON_CHARS]
    return Note(_actor(actor), "task.answered", task_id, outcome, source, detail, key)


def refusal_note(
    actor: Actor | Principal,
    *,
    source: str,
    target: str,
    permission: Permission | None,
    reason: str,
    key: str | None = None,
) -> Note:
    """An authenticated principal asked for something the matrix (or CSRF) denies."""
    detail = {"permission": permission.value if permission else None, "reason": reason}
    return Note(_actor(actor), "refused", target, "refused", source, detail, key)


def auth_failure_note(*, source: str, target: str, reason: str) -> Note:
    """A credential that is wrong, expired or revoked (or not honoured from there)."""
    detail = {"reason": reason}
    return Note(Actor(ANONYMOUS, ANONYMOUS), "auth.failed", target, "refused", source, detail)


def plan_note(
    actor: Actor | Principal,
    *,
    source: str,
    workflow_id: str,
    plan_id: str,
    version: str,
    outcome: str = "ok",
    reason: str | None = None,
) -> Note:
    """A plan version was applied to a response (or the response refused it: ``failed``)."""
    detail: dict[str, Any] = {"plan": plan_id, "version": version}
    if reason:
        detail["reason"] = reason[:MAX_REASON_CHARS]
    return Note(_actor(actor), "plan.applied", workflow_id, outcome, source, detail)


def drill_note(
    actor: Actor | Principal, action: str, *, source: str, target: str, **detail: Any
) -> Note:
    """``drill.started`` or ``drill.scheduled`` (target: the storm), ``drill.unscheduled``
    (target: the schedule's id)."""
    return Note(_actor(actor), action, target, "ok", source, detail)


async def authorize_audited(
    sessions: async_sessionmaker[AsyncSession] | None,
    principal: Principal,
    permission: Permission,
    *,
    target: str,
    source: str,
    agency: str | None = None,
    districts: Iterable[str] | None = None,
) -> None:
    """:func:`access.matrix.authorize`, with a refusal recorded before it is raised.

    Raises:
        Forbidden: as :func:`~access.matrix.authorize` (the refusal is in the trail).
    """
    try:
        authorize(principal, permission, agency=agency, districts=districts)
    except Forbidden as exc:
        note = refusal_note(
            principal, source=source, target=target, permission=permission, reason=exc.reason
        )
        await write_now(sessions, note)
        raise


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
