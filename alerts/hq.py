"""HQ decisions at the edge: read one, hand it to the response, say what became of it.

Every channel but the command line reads the same document
(:class:`alerts.wire.HqDecisionDocument`: ``POST /hq/decisions``, ``tidegate.hq.decisions``,
drills replaying the HQ's recorded decisions) with :func:`parse_decision`, which checks it
exactly as the CLI does: the document, then the plan's catalogue for areas and hazards (as
for a warning), then :func:`plans.hq.problem`. :func:`hand_over` signals the region's response
(:func:`workflows.starters.declare`, durable once it returns) and waits briefly for the outcome
its ledger logs, as warnings do (``alerts.decisions``); :func:`in_force` lists the declarations
in force from the response's log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from access.audit import Actor, Note
from alerts import fields, vocabulary
from alerts.decisions import DB_TIMEOUT, POLL_SECONDS, position
from alerts.errors import AlertRejected
from alerts.intake import check_size, decode
from alerts.parse_json import _load as load_json  # the one strict JSON reader of intake
from alerts.wire import MAX_DECISION_BYTES, HqDecisionDocument, decision_problem
from plans.hq import HqDecision, HqKind, HqLedger, problem
from plans.model import Hazard, Plan, ResponseLevel
from store.hq import HqOutcome, hq_log, hq_outcomes_after, latest_levels, live_response
from store.records import save_rejection
from workflows.starters import declare, response_workflow_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

log = logging.getLogger("tidegate.intake")

PENDING = "pending"
"""Handed on (durably), but the response had not logged its outcome within the wait."""
AUDIT_ACTION = "hq.decision"
"""The audit trail's action for an HQ decision, whichever channel brought it."""


def parse_decision(
    payload: bytes,
    plan: Plan,
    *,
    decided_by: str,
    now: datetime | None = None,
    max_bytes: int = MAX_DECISION_BYTES,
) -> HqDecision:
    """Validate one HQ decision (``docs/messages.md``, "HQ decisions").

    Args:
        payload: The bytes as received: UTF-8 JSON, at most ``max_bytes``.
        plan: The plan whose catalogue names the areas and hazards.
        decided_by: Who decided, when the document does not say (the sender).
        now: The receiving clock (``sent`` may be at most 15 minutes ahead; an absent ``sent``
            is ``now``). ``None``: the system clock; drills pass their service clock.
        max_bytes: Size limit, checked before anything is parsed.

    Returns:
        The decision, its areas canonical (``citywide`` or district ids).

    Raises:
        AlertRejected: Naming the field and what is wrong (code ``schema`` for a bad field,
            ``syntax``/``encoding``/``too_large`` for the bytes).
    """
    check_size(len(payload), max_bytes)
    data = load_json(decode(bytes(payload)))
    try:
        document = HqDecisionDocument.model_validate(data)
    except ValidationError as exc:
        field, reason = decision_problem(exc, data)
        raise AlertRejected(reason, field) from None
    moment = now if now is not None else datetime.now(UTC)
    sent = document.sent or moment
    fields.not_ahead(sent, moment)
    decision = HqDecision(
        id=document.id,
        decided_by=document.decided_by or decided_by,
        sent=sent,
        kind=document.kind,
        level=document.level,
        areas=vocabulary.areas(document.areas, plan) if document.areas else (),
        hazards=_hazards(document.hazards, plan),
        reason=document.reason,
        references=tuple(document.references),
    )
    wrong = problem(decision, tuple(d.id for d in plan.districts))
    if wrong is not None:
        field, _, reason = wrong.partition(": ")
        raise AlertRejected(reason, field)
    return decision


def _hazards(names: list[str], plan: Plan) -> tuple[Hazard, ...]:
    found = [vocabulary.hazard(name, plan, field="hazards") for name in names]
    return tuple(dict.fromkeys(found))


def document_of(decision: HqDecision) -> dict[str, Any]:
    """The decision in the JSON form :func:`parse_decision` reads (areas and hazards as ids)."""
    return {
        "id": decision.id,
        "kind": str(decision.kind),
        "level": str(decision.level) if decision.level else None,
        "areas": list(decision.areas),
        "hazards": [str(h) for h in decision.hazards],
        "reason": decision.reason,
        "references": list(decision.references),
        "decided_by": decision.decided_by,
        "sent": decision.sent.isoformat(),
    }


# -- what became of it ---------------------------------------------------------------------
@dataclass(frozen=True)
class HqReport:
    """What intake can tell the sender about one HQ decision right now."""

    decision: HqDecision
    outcome: str
    """The ledger's ``apply``, ``duplicate``, ``stale`` or ``rejected``; or :data:`PENDING`."""
    reason: str
    workflow_id: str
    response_id: str | None = None
    decided_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields every channel reports (HTTP body, audit detail)."""
        return {
            "id": self.decision.id,
            "kind": str(self.decision.kind),
            "level": str(self.decision.level) if self.decision.level else None,
            "areas": list(self.decision.areas),
            "outcome": self.outcome,
            "reason": self.reason,
            "workflow_id": self.workflow_id,
            "response_id": self.response_id,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


async def hand_over(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    region: str,
    plan: Plan,
    decision: HqDecision,
    wait: float,
) -> HqReport:
    """Hand ``decision`` to the region's live response, then wait up to ``wait`` s for its
    outcome.

    Raises:
        Exception: Whatever the hand-off raised (Temporal unreachable...): nothing was queued.
    """
    after = await position(sessions)  # before the hand-off: a later entry is this copy's
    workflow_id = await declare(client, task_queue, region, plan, decision)
    if after is None:
        reason = "queued, outcome pending: the database cannot be read; see GET /hq/decisions"
        return HqReport(decision, PENDING, reason, workflow_id)
    found = await _wait_for(sessions, decision.id, after, wait)
    if found is None:
        reason = "queued, outcome pending (the worker has not decided yet); see GET /hq/decisions"
        return HqReport(decision, PENDING, reason, workflow_id)
    return HqReport(decision, found.outcome, found.reason, workflow_id, found.response_id, found.at)


async def _wait_for(
    sessions: async_sessionmaker[AsyncSession], decision_id: str, after: int, within: float
) -> HqOutcome | None:
    """The first outcome logged on ``decision_id`` after ``after``, polled until ``within``."""
    deadline = time.monotonic() + within
    attempt = 0
    while True:
        try:
            async with asyncio.timeout(DB_TIMEOUT), sessions() as session:
                found = await hq_outcomes_after(session, after, decision_id)
            if found:
                return found[0]
        except Exception as exc:  # keep waiting: the database may come back in time
            log.debug("polling the outcome of %s: %s", decision_id, exc)
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        await asyncio.sleep(min(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)], left))
        attempt += 1


# -- what is in force ----------------------------------------------------------------------
@dataclass(frozen=True)
class InForce:
    """The live response's HQ declarations in force, and the levels with and without them."""

    workflow_id: str
    response_id: str | None
    """``None``: no live response."""
    declarations: tuple[HqDecision, ...]
    levels: dict[str, str]
    """Area to the effective level (what the response acts on)."""
    automatic: dict[str, str]
    """Area to the level the signals alone give, while a declaration is in force (else
    ``{}``: the same as ``levels``)."""

    def to_json(self) -> dict[str, Any]:
        """The ``GET /hq/decisions`` body."""
        return {
            "workflow_id": self.workflow_id,
            "response_id": self.response_id,
            "levels": self.levels,
            "automatic": self.automatic,
            "declarations": [document_of(d) for d in self.declarations],
        }


async def in_force(sessions: async_sessionmaker[AsyncSession], region: str) -> InForce:
    """What the region's live response has in force, from its log.

    The declarations applied are taken again, in the order the response took them, by the
    same :class:`~plans.hq.HqLedger` the workflow keeps (a decision the ledger refused changed
    nothing), so the list is the workflow's, without asking a worker.
    """
    workflow_id = response_workflow_id(region, drill=False)
    async with sessions() as session:
        response = await live_response(session, region)
        if response is None:
            return InForce(workflow_id, None, (), {}, {})
        logged = await hq_log(session, response.id)
        latest = await latest_levels(session, response.id)
    ledger = HqLedger()
    for entry in logged:
        if entry.outcome == "apply":
            ledger.accept(decision_of(entry.detail))
    active = ledger.active()
    levels = {str(a): str(v) for a, v in dict(latest.get("levels", response.levels)).items()}
    automatic = dict(latest.get("automatic", {})) if active else {}
    return InForce(workflow_id, response.id, active, levels, automatic)


def decision_of(detail: dict[str, Any]) -> HqDecision:
    """An HQ decision as the response logged it (``record_hq_decision``)."""
    level = detail.get("level")
    return HqDecision(
        id=str(detail["decision_id"]),
        decided_by=str(detail.get("decided_by", "")),
        sent=datetime.fromisoformat(str(detail["sent"])),
        kind=HqKind(str(detail["kind"])),
        level=ResponseLevel(str(level)) if level else None,
        areas=tuple(str(a) for a in detail.get("areas", ())),
        hazards=tuple(Hazard(str(h)) for h in detail.get("hazards", ())),
        reason=str(detail.get("reason", "")),
        references=tuple(str(r) for r in detail.get("references", ())),
    )


def withdrawn_areas(decision: HqDecision, declarations: tuple[HqDecision, ...]) -> tuple[str, ...]:
    """The areas a withdraw gives back: those of the declaration it names, if in force.

    Raises:
        AlertRejected: It names no declaration in force (the response would reject it).
    """
    target = decision.references[0]
    for declared in declarations:
        if declared.id == target:
            return declared.areas
    raise AlertRejected(f"no declaration {target!r} is in force", "references")


# -- the audit trail -----------------------------------------------------------------------
def hq_note(
    actor: Actor,
    *,
    source: str,
    decision: HqDecision | None,
    outcome: str = "ok",
    report: HqReport | None = None,
    reason: str | None = None,
    key: str | None = None,
) -> Note:
    """``hq.decision``: what the decision said (if it could be read) and what became of it."""
    detail: dict[str, Any] = {}
    if decision is not None:
        detail = {
            "kind": str(decision.kind),
            "level": str(decision.level) if decision.level else None,
            "areas": list(decision.areas),
            "references": list(decision.references),
            "decided_by": decision.decided_by,
        }
    if report is not None:
        detail |= {"outcome": report.outcome, "workflow_id": report.workflow_id}
    if reason:
        detail["reason"] = reason[:500]
    target = f"hq:{decision.id}" if decision is not None else ""  # as ``tidegate hq`` names it
    return Note(actor, AUDIT_ACTION, target, outcome, source, detail, key)


# -- the real collaborators ----------------------------------------------------------------
@dataclass(frozen=True)
class HqServices:
    """Hand-off, outcome and what is in force, over the real services (``tidegate serve``)."""

    client: Client
    sessions: async_sessionmaker[AsyncSession]
    plan: Plan
    task_queue: str
    region: str
    decision_wait: float = 5.0
    """Seconds :meth:`hand_over` waits for the response's outcome before answering pending."""

    async def hand_over(self, decision: HqDecision) -> HqReport:
        """:func:`hand_over` to the region's live response."""
        return await hand_over(
            self.client,
            self.sessions,
            self.task_queue,
            self.region,
            self.plan,
            decision,
            self.decision_wait,
        )

    async def in_force(self) -> InForce:
        """:func:`in_force` in the region's live response."""
        return await in_force(self.sessions, self.region)

    async def on_reject(self, raw: bytes, reason: str, channel: str) -> None:
        """Keep a refused payload and why, in the ``rejections`` table."""
        async with self.sessions.begin() as session:
            await save_rejection(session, channel, reason, raw, datetime.now(UTC))
