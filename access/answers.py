"""An agency's answer to a task, given by a known principal: the HTTP agency API and
``tidegate agency ack|progress|complete|decline`` both go through :func:`answer_as`, answers
on an agency's own Kafka events topic through :func:`answer_from_topic`.

The answer is parsed exactly as on ``tidegate.tasks.events`` (:func:`parse_event`), the task's
row names its agency, :func:`access.matrix.authorize` decides, and only then does the answer
reach the task's workflow (:func:`workflows.tracking.answer_task`). The event's ``by`` always
starts with the principal's name, so the task's history says who acted; the audit trail says
it too, for refusals as well.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from access.audit import answer_note, authorize_audited, refusal_note, write_now
from access.matrix import Forbidden, Permission, Principal, authorize
from alerts.agency_events import MAX_BY_CHARS, TaskEvent, deliver, parse_event
from alerts.kafka import Refused
from store import queries

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from store.models import TaskRecord
    from workflows.tracking import AnswerRoute

KINDS = ("acknowledge", "progress", "complete", "decline")


@dataclass(frozen=True)
class Answer:
    """What the principal says about the task."""

    task_id: str
    kind: str
    by: str = ""
    """The team or person, as the agency names them (prefixed with the principal's name)."""
    reason: str = ""


def signed_by(principal: Principal, by: str) -> str:
    """``by`` as recorded: the principal's name, then what the caller added, if anything."""
    given = by.strip()
    if not given or given == principal.name:
        return principal.name
    return f"{principal.name}: {given}"[:MAX_BY_CHARS]


async def visible_task(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    task_id: str,
    *,
    source: str,
) -> TaskRecord | None:
    """The task if the principal may read it; ``None`` if there is none.

    Raises:
        Forbidden: a task of another agency (audited).
    """
    async with sessions() as session:
        row = await queries.task(session, task_id)
    if row is not None:
        await _check(sessions, principal, Permission.TASK_READ, row.agency, task_id, source)
    return row


async def answer_as(
    sessions: async_sessionmaker[AsyncSession],
    answers: Callable[[], Awaitable[AnswerRoute]],
    principal: Principal,
    answer: Answer,
    *,
    source: str,
) -> None:
    """Deliver ``answer`` if the principal may answer this task; audited either way.

    Args:
        sessions: The database (tasks, the audit trail).
        answers: Where answers go (:meth:`runtime.services.Runtime.answers`), asked only
            once the answer is allowed: a refusal needs no Temporal.
        principal: Who answers.
        answer: What they say.
        source: Where from, for the audit trail.

    Raises:
        Refused: a malformed answer, or a task that cannot take it (unknown, closed).
        Forbidden: not the principal's agency's task, or a role that does not answer tasks.
    """
    body = {"task_id": answer.task_id, "kind": answer.kind, "by": signed_by(principal, answer.by)}
    if answer.reason:
        body["reason"] = answer.reason
    try:
        event = parse_event(json.dumps(body).encode())
    except Refused as exc:
        await _failed(sessions, principal, answer.task_id, answer.kind, exc, source=source)
        raise
    async with sessions() as session:
        row = await queries.task(session, event.task_id)
    # An unknown task is checked for the role only; delivery then refuses it ("no task").
    agency = row.agency if row else None
    await _check(sessions, principal, Permission.TASK_ANSWER, agency, event.task_id, source)
    try:
        await deliver(await answers(), event)
    except Refused as exc:
        await _failed(sessions, principal, event.task_id, answer.kind, exc, source=source)
        raise
    note = answer_note(
        principal, source=source, task_id=event.task_id, kind=answer.kind, by=event.event.by,
        agency=agency,
    )  # fmt: skip
    await write_now(sessions, note)


async def answer_from_topic(
    sessions: async_sessionmaker[AsyncSession],
    route: AnswerRoute,
    principal: Principal,
    payload: bytes,
    *,
    source: str,
    key: str,
) -> TaskEvent:
    """An answer read from an agency's own events topic, delivered and audited.

    The topic says who answers (only that agency may write to it): ``principal`` is the
    agency's Kafka user, ``route`` is bound to its agency, so delivery refuses another
    agency's task. The event is taken as sent (its ``by`` is the agency's own). The entry is
    keyed by the record's position (``key``), so a record read again adds nothing.

    Raises:
        Refused: malformed, an unknown or closed task (``task.answered`` failed), or another
            agency's task (``refused``): the consumer dead-letters it.
    """
    try:
        event = parse_event(payload)
    except Refused as exc:
        await _failed(sessions, principal, "", "", exc, source=source, key=key)
        raise
    kind = str(event.event.kind)
    try:
        await deliver(route, event)
    except Refused as exc:
        async with sessions() as session:
            row = await queries.task(session, event.task_id)
        if row is not None and not permits(principal, Permission.TASK_ANSWER, row.agency):
            note = refusal_note(
                principal, source=source, target=event.task_id, permission=Permission.TASK_ANSWER,
                reason=exc.reason, key=key,
            )  # fmt: skip
            await write_now(sessions, note)
        else:
            await _failed(sessions, principal, event.task_id, kind, exc, source=source, key=key)
        raise
    note = answer_note(
        principal, source=source, task_id=event.task_id, kind=kind, by=event.event.by,
        agency=principal.agency, key=key,
    )  # fmt: skip
    await write_now(sessions, note)
    return event


def permits(principal: Principal, permission: Permission, agency: str | None) -> bool:
    """Whether :func:`access.matrix.authorize` allows it (no audit: a question, not an act)."""
    try:
        authorize(principal, permission, agency=agency)
    except Forbidden:
        return False
    return True


async def _failed(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    task_id: str,
    kind: str,
    exc: Refused,
    *,
    source: str,
    key: str | None = None,
) -> None:
    note = answer_note(
        principal, source=source, task_id=task_id, kind=kind, outcome="failed",
        reason=exc.reason, key=key,
    )  # fmt: skip
    await write_now(sessions, note)


async def _check(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    permission: Permission,
    agency: str | None,
    target: str,
    source: str,
) -> None:
    await authorize_audited(
        sessions, principal, permission, agency=agency, target=target, source=source
    )
