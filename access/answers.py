"""An agency's answer to a task, given by a known principal: the HTTP agency API and
``tidegate agency ack|progress|complete|decline`` both go through :func:`answer_as`.

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

from access.audit import record, record_now
from access.matrix import Forbidden, Permission, Principal, authorize
from alerts.agency_events import MAX_BY_CHARS, deliver, parse_event
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
    target = answer.task_id[:400]
    try:
        event = parse_event(json.dumps(body).encode())
    except Refused as exc:
        await record_now(
            sessions,
            principal,
            "task.answered",
            target=target,
            outcome="failed",
            source=source,
            kind=answer.kind,
            reason=exc.reason,
        )
        raise
    async with sessions() as session:
        row = await queries.task(session, event.task_id)
    # An unknown task is checked for the role only; delivery then refuses it ("no task").
    agency = row.agency if row else None
    await _check(sessions, principal, Permission.TASK_ANSWER, agency, event.task_id, source)
    try:
        await deliver(await answers(), event)
    except Refused as exc:
        await record_now(
            sessions,
            principal,
            "task.answered",
            target=target,
            outcome="failed",
            source=source,
            kind=answer.kind,
            reason=exc.reason,
        )
        raise
    await record_now(
        sessions,
        principal,
        "task.answered",
        target=target,
        source=source,
        kind=answer.kind,
        by=event.event.by,
        agency=agency,
    )


async def _check(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    permission: Permission,
    agency: str | None,
    target: str,
    source: str,
) -> None:
    try:
        authorize(principal, permission, agency=agency)
    except Forbidden as exc:
        async with sessions.begin() as session:
            await record(
                session,
                principal,
                "refused",
                target=target[:400],
                outcome="refused",
                source=source,
                permission=permission.value,
                reason=exc.reason,
            )
        raise
