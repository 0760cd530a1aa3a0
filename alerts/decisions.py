"""What became of a warning: the response's decision, waited for briefly after the hand-off.

Handing a warning on (:func:`workflows.starters.submit`, a signal-with-start) is durable the
moment it returns, but the ledger decides inside the response workflow a moment later, and the
workflow logs each decision in the audit log (the ``record_warning`` activity). So every channel
notes the audit log's position *before* the hand-off and then polls, with a short backoff, for a
decision on the same message id logged after that position, until a deadline
(``Settings.decision_wait_seconds``). A decision logged after the position is this copy's: a
re-send of a known id gets a ``duplicate`` entry of its own.

Decisions are the ledger's (:class:`plans.ledger.Decision`: ``apply``, ``duplicate``,
``stale``, ``held``, ``rejected``, ``orphaned``) plus two of intake's own:

* :data:`PENDING`: handed on, and durable, but not decided within the wait (a busy or stopped
  worker, or a database that cannot be read); the decision is taken when the worker runs.
* :data:`IGNORED`: a ``test`` message, logged and never handed on.

``held`` is not final: the message is released (and decided again) when what it references
arrives, or orphaned. ``GET /alerts/{id}`` and ``tidegate alert show`` give the decision that
stands.

:class:`DecisionWatch` is the same wait for many messages at once (the Kafka consumer): one
poll per interval, however many messages are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from plans.warning import Route
from store.queries import Decided, audit_position, decisions_after
from workflows.starters import submit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from plans.model import Plan
    from plans.warning import Alert

log = logging.getLogger("tidegate.intake")

PENDING = "pending"
IGNORED = "ignored"
FINAL_LATER = "held"
"""The one ledger decision that is taken again later (on release, or as ``orphaned``)."""
POLL_SECONDS = (0.05, 0.1, 0.2, 0.25)
"""Backoff between polls of the audit log; the last value repeats."""
DB_TIMEOUT = 3.0
"""Seconds one read of the audit log may take before the wait treats the database as down."""


def lookup_hint(alert_id: str) -> str:
    """How a sender looks the decision up later."""
    return f"`tidegate alert show {alert_id}` or GET /alerts/{alert_id}"


@dataclass(frozen=True)
class DecisionReport:
    """What intake can tell the sender about one message right now."""

    alert_id: str
    kind: str
    route: str
    decision: str
    """A ledger decision, :data:`PENDING` or :data:`IGNORED`."""
    reason: str
    workflow_id: str | None
    """The response workflow that holds the message (``None`` for a test message)."""
    response_id: str | None = None
    warning: str | None = None
    """Id of the first message of the warning the ledger filed it under, if any."""
    decided_at: datetime | None = None

    @property
    def known(self) -> bool:
        """Whether the response has decided (a held message is decided: it waits)."""
        return self.decision != PENDING

    def to_json(self) -> dict[str, Any]:
        """The fields every channel reports (CLI ``--json``, HTTP body, Kafka record)."""
        return {
            "id": self.alert_id,
            "kind": self.kind,
            "route": self.route,
            "decision": self.decision,
            "reason": self.reason,
            "workflow_id": self.workflow_id,
            "response_id": self.response_id,
            "warning": self.warning,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


def standing(decisions: Sequence[Decided]) -> Decided | None:
    """The decision that stands: the first, unless it was ``held`` and a later one followed.

    A held message is decided again when it is released, or orphaned; a re-send of its id
    (a ``duplicate`` on arrival) does not change what became of the message itself.
    """
    if not decisions:
        return None
    first = decisions[0]
    if first.decision != FINAL_LATER:
        return first
    return next((d for d in decisions[1:] if not d.arrival), first)


def report(alert: Alert, workflow_id: str | None, decided: Sequence[Decided]) -> DecisionReport:
    """The report for ``alert`` given the decisions logged on it since its hand-off.

    The first is this copy's decision; if it was ``held`` and a release (or orphaning) has
    been logged since, that one stands.
    """
    route, kind = str(alert.route), str(alert.kind)
    if alert.route is Route.IGNORED:
        reason = "status test: logged and ignored"
        return DecisionReport(alert.id, kind, route, IGNORED, reason, None)
    if not decided:
        reason = f"queued, decision pending; look it up with {lookup_hint(alert.id)}"
        return DecisionReport(alert.id, kind, route, PENDING, reason, workflow_id)
    stands = standing(decided)
    assert stands is not None
    return DecisionReport(
        alert.id,
        kind,
        route,
        stands.decision,
        stands.reason,
        workflow_id,
        stands.response_id,
        stands.warning or None,
        stands.at,
    )


async def position(sessions: async_sessionmaker[AsyncSession]) -> int | None:
    """The audit log's position now, or ``None`` if the database cannot be read."""
    try:
        async with asyncio.timeout(DB_TIMEOUT), sessions() as session:
            return await audit_position(session)
    except Exception as exc:  # the hand-off must not depend on the database
        log.warning("cannot read the audit log (%s): decisions will show as pending", exc)
        return None


async def wait_for(
    sessions: async_sessionmaker[AsyncSession], alert_id: str, after: int, within: float
) -> list[Decided]:
    """Poll for decisions on ``alert_id`` logged after ``after``; ``[]`` if none in time."""
    deadline = time.monotonic() + within
    attempt = 0
    while True:
        try:
            async with asyncio.timeout(DB_TIMEOUT), sessions() as session:
                found = await decisions_after(session, after, alert_id)
            if found:
                return found
        except Exception as exc:  # keep waiting: the database may come back in time
            log.debug("polling decisions on %s: %s", alert_id, exc)
        left = deadline - time.monotonic()
        if left <= 0:
            return []
        await asyncio.sleep(min(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)], left))
        attempt += 1


async def hand_over(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    region: str,
    plan: Plan,
    alert: Alert,
    wait: float,
) -> DecisionReport:
    """Hand ``alert`` to its response workflow, then wait up to ``wait`` s for its decision.

    Raises:
        Exception: Whatever the hand-off raised (Temporal unreachable...): nothing was queued.
    """
    if alert.route is Route.IGNORED:
        return report(alert, None, [])
    after = await position(sessions)
    routed = await submit(client, task_queue, region, plan, alert)
    if after is None:
        return _unreadable(alert, routed.workflow_id)
    return report(alert, routed.workflow_id, await wait_for(sessions, alert.id, after, wait))


def _unreadable(alert: Alert, workflow_id: str | None) -> DecisionReport:
    reason = (
        "queued, decision pending: the database cannot be read; look it up later with "
        + lookup_hint(alert.id)
    )
    return DecisionReport(alert.id, str(alert.kind), str(alert.route), PENDING, reason, workflow_id)


@dataclass(eq=False)
class _Waiting:
    alert: Alert
    workflow_id: str | None
    after: int | None
    deadline: float
    decided: list[Decided] = field(default_factory=list)


Publish = Callable[[DecisionReport], Awaitable[None]]


class DecisionWatch:
    """Waits for the decisions on many handed-on messages at once and reports each one.

    :meth:`expect` registers a message (with the position noted before its hand-off); within
    ``wait`` seconds ``publish`` gets its decision, or a :data:`PENDING` report. One query per
    poll serves every waiting message; decisions are matched to messages of the same id in
    the order the messages were registered. On exit every message still waiting is reported
    as pending, so each registered message is reported exactly once.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], publish: Publish, wait: float
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._wait = wait
        self._waiting: list[_Waiting] = []
        self._matched: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="decision-watch")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        waiting, self._waiting = self._waiting, []
        for entry in waiting:
            await self._report(entry)

    @property
    def waiting(self) -> int:
        """How many messages still wait for their decision."""
        return len(self._waiting)

    async def position(self) -> int | None:
        """Note the audit log's position; call before handing a message on."""
        return await position(self._sessions)

    def expect(self, alert: Alert, workflow_id: str | None, after: int | None) -> None:
        """Report ``alert``'s decision once it is logged after ``after`` (or when time is up)."""
        wait = self._wait if after is not None and alert.route is not Route.IGNORED else 0.0
        self._waiting.append(_Waiting(alert, workflow_id, after, time.monotonic() + wait))
        self._wake.set()

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                attempt = 0
            await self._poll()
            await self._report_done()
            if self._waiting:
                await asyncio.sleep(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)])
                attempt += 1

    async def _poll(self) -> None:
        marks = [w.after for w in self._waiting if w.after is not None and not w.decided]
        if not marks:
            return
        since = min(marks)
        try:
            async with asyncio.timeout(DB_TIMEOUT), self._sessions() as session:
                found = await decisions_after(session, since)
        except Exception as exc:  # keep polling until the deadlines pass
            log.debug("polling decisions: %s", exc)
            return
        self._matched = {p for p in self._matched if p > since}
        for decided in found:
            if decided.position in self._matched:
                continue
            entry = next(
                (
                    w
                    for w in self._waiting
                    if w.alert.id == decided.warning_id
                    and not w.decided
                    and w.after is not None
                    and decided.position > w.after
                ),
                None,
            )
            if entry is not None:
                entry.decided.append(decided)
                self._matched.add(decided.position)

    async def _report_done(self) -> None:
        now = time.monotonic()
        done = [w for w in self._waiting if w.decided or w.deadline <= now]
        self._waiting = [w for w in self._waiting if w not in done]
        for entry in done:
            await self._report(entry)

    async def _report(self, entry: _Waiting) -> None:
        if entry.after is None and entry.alert.route is not Route.IGNORED:
            decision = _unreadable(entry.alert, entry.workflow_id)
        else:
            decision = report(entry.alert, entry.workflow_id, entry.decided)
        try:
            await self._publish(decision)
        except Exception:  # a lost report must not stop the others; the decision is stored
            log.exception("could not report the decision on %s", entry.alert.id)
