"""The HQ's decisions over HTTP: ``POST /hq/decisions`` and ``GET /hq/decisions``.

``POST`` takes one decision in the JSON form of :class:`alerts.wire.HqDecisionDocument`
(``docs/messages.md``), checks it as every channel does (:func:`alerts.hq.parse_decision`),
asks the gate for ``hq.decide`` over the areas it names (a withdraw: the areas of the
declaration it takes back; a district officer decides for its own district only), hands it to
the region's live response and waits briefly for what the response's ledger made of it.
``GET`` lists the declarations in force, with the levels the response acts on and the
automatic ones beside them (``status.read``). Every decision is audited (``hq.decision``),
refused ones too; the sender's rate is limited as ``POST /alerts`` is.

Status codes of a ``POST``: 200 ``apply`` or ``duplicate`` (nothing more to do); 409 ``stale``
or ``rejected`` (it will not take effect; also a withdraw naming no declaration in force); 202
``pending`` (handed on, durably, not decided yet: see ``GET /hq/decisions``). Before that: 400
not UTF-8 or not JSON; 401 no valid credential; 403 not allowed (role, district); 408 the body
did not arrive in time; 413 over 64 KiB; 415 not ``application/json``; 422 well-formed but
invalid (the ``field`` says which); 429 too many; 503 Temporal or the database is down, retry.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from access.audit import Actor, write_now
from access.http import Gate, source_of
from access.matrix import Permission, Principal
from alerts.errors import AlertRejected, RejectCode
from alerts.hq import PENDING, HqReport, hq_note, parse_decision, withdrawn_areas
from alerts.http import READ_TIMEOUT_SECONDS, Rejected
from alerts.http import _read as read_body  # intake's body reader: size limit and deadline
from alerts.outage import is_outage, refusal_reason
from alerts.wire import MAX_DECISION_BYTES, HqDecisionDocument
from plans.hq import HqDecision, HqKind
from workflows.starters import response_workflow_id

if TYPE_CHECKING:
    from alerts.hq import HqServices

log = logging.getLogger("tidegate.http")

CHANNEL = "http:/hq/decisions"
"""How the ``rejections`` table names this way in."""
OUTCOME_STATUS = {"apply": 200, "duplicate": 200, "stale": 409, "rejected": 409, PENDING: 202}
"""HTTP status of a handed-on decision by the ledger's outcome."""
_STATUS = {
    RejectCode.TIMEOUT: 408,
    RejectCode.TOO_LARGE: 413,
    RejectCode.MEDIA_TYPE: 415,
    RejectCode.ENCODING: 400,
    RejectCode.SYNTAX: 400,
    RejectCode.SCHEMA: 422,
}


class HqAnswer(BaseModel):
    """What became of a decision: the response ledger's outcome, or pending."""

    id: str
    kind: str
    level: str | None
    areas: list[str]
    outcome: str = Field(
        description="apply | duplicate | stale | rejected (the response's ledger), or pending "
        "(handed on, not decided yet)."
    )
    reason: str = Field(description="Why, in words.")
    workflow_id: str | None
    response_id: str | None = None
    decided_at: str | None = None


def hq_router(
    gate: Gate, services: HqServices, *, read_timeout: float = READ_TIMEOUT_SECONDS
) -> APIRouter:
    """The HQ decision routes over ``gate`` (who) and ``services`` (where decisions go)."""
    router = APIRouter(prefix="/hq/decisions", tags=["hq"])
    may_decide = Depends(gate.require(Permission.HQ_DECIDE))
    may_read = Depends(gate.require(Permission.STATUS_READ))

    async def audit(request: Request, who: Principal, **fields: Any) -> None:
        note = hq_note(Actor.of(who), source=source_of(request), **fields)
        try:
            await write_now(gate.sessions, note)
        except Exception:
            log.exception("could not write the audit entry for HQ decision %s", note.target)

    async def refuse(
        request: Request, who: Principal, raw: bytes, problem: AlertRejected, status: int
    ) -> JSONResponse:
        await audit(request, who, decision=None, outcome="failed", reason=str(problem))
        try:
            await services.on_reject(raw, str(problem), CHANNEL)
        except Exception:
            log.exception("could not record a refused HQ decision (%s)", problem)
        body = Rejected(detail=problem.reason, field=problem.field, code=problem.code.value)
        close = problem.code in (RejectCode.TOO_LARGE, RejectCode.TIMEOUT)
        headers = {"Connection": "close"} if close else None
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)

    @router.post(
        "",
        response_model=HqAnswer,
        responses={
            200: {"model": HqAnswer, "description": "Applied, or a duplicate (nothing to do)."},
            202: {"model": HqAnswer, "description": "Handed on, outcome pending."},
            409: {"model": HqAnswer, "description": "Stale or rejected: it will not take effect."},
            **{code: {"model": Rejected} for code in (400, 408, 413, 415, 422)},
            401: {"description": "Missing or wrong credential."},
            403: {"description": "The role may not decide for these areas."},
            429: {"description": "Too many requests from this principal; retry later."},
            503: {"model": Rejected, "description": "Hand-off failed; retry."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": HqDecisionDocument.model_json_schema(),
                        "example": HqDecisionDocument.example,
                    }
                },
            }
        },
    )
    async def post_decision(request: Request, who: Principal = may_decide) -> JSONResponse:
        """Declare (start, raise, lower, hold, end) or withdraw an HQ decision."""
        gate.limit(gate.intake_limit, f"hq {who.name}")
        body = bytearray()
        try:
            await read_body(request, body, MAX_DECISION_BYTES, read_timeout)
            _json_only(request.headers.get("content-type", ""))
            decision = parse_decision(bytes(body), services.plan, decided_by=who.name)
        except AlertRejected as problem:
            status = _STATUS[problem.code]
            return await refuse(request, who, bytes(body[:MAX_DECISION_BYTES]), problem, status)
        try:
            areas = await _areas(decision, services)
        except AlertRejected as problem:  # a withdraw of nothing in force: refused as the
            await audit(  # response would refuse it, without bothering the response
                request, who, decision=decision, outcome="failed", reason=str(problem)
            )
            where = response_workflow_id(services.region, drill=False)
            return _answer(HqReport(decision, "rejected", str(problem), where), 409)
        except Exception as exc:
            if not is_outage(exc):
                raise
            return _unavailable("the database cannot be read; retry")
        await gate.check(request, who, Permission.HQ_DECIDE, districts=areas)
        try:
            report = await services.hand_over(decision)
        except Exception as exc:
            log.exception("could not hand HQ decision %s on", decision.id)
            if not is_outage(exc):
                reason = refusal_reason(exc, stage="handed on")
                return await refuse(request, who, bytes(body), AlertRejected(reason), 422)
            await audit(request, who, decision=decision, outcome="failed", reason="unavailable")
            return _unavailable("valid, but could not be handed on; retry")
        await audit(request, who, decision=decision, report=report)
        return _answer(report, OUTCOME_STATUS.get(report.outcome, 202))

    @router.get("", responses={401: {}, 403: {}, 503: {"model": Rejected}})
    async def list_decisions(who: Principal = may_read) -> Any:
        """The live response's HQ declarations in force, its levels and the automatic ones."""
        try:
            return (await services.in_force()).to_json()
        except Exception as exc:
            if not is_outage(exc):
                raise
            return _unavailable("the database cannot be read; retry")

    return router


async def _areas(decision: HqDecision, services: HqServices) -> tuple[str, ...]:
    """The areas a decision acts on: its own, or for a withdraw those it gives back."""
    if decision.kind is not HqKind.WITHDRAW:
        return decision.areas
    return withdrawn_areas(decision, (await services.in_force()).declarations)


def _json_only(header: str) -> None:
    media, *params = (part.strip() for part in header.split(";"))
    if media.lower() != "application/json":
        raise AlertRejected(
            f"Content-Type {media[:60]!r} is not application/json", code=RejectCode.MEDIA_TYPE
        )
    for param in params:
        name, _, value = param.partition("=")
        charset = value.strip(" \"'").lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise AlertRejected(
                f"charset {value.strip()[:20]!r} is not accepted; send UTF-8",
                code=RejectCode.MEDIA_TYPE,
            )


def _unavailable(detail: str) -> JSONResponse:
    body = Rejected(detail=detail, code="unavailable")
    return JSONResponse(body.model_dump(), status_code=503)


def _answer(report: HqReport, status: int) -> JSONResponse:
    body = HqAnswer.model_validate(report.to_json())
    headers = {"Location": "/hq/decisions"} if status == 202 else None
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)
