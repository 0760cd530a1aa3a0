"""HTTP intake for duty officers: ``POST /alerts`` (JSON or CAP 1.2 XML) and ``GET /alerts/{id}``.

The app only translates HTTP into the same calls every channel makes: :func:`parse_alert` for
validation, then an injected ``submit`` (which signals Temporal) and ``lookup`` (which reads the
database). Rejections are passed to an injected ``on_reject`` so they can be recorded. Tests and
local runs inject fakes; ``worker.py``-style composition roots inject the real ones.

Status codes once the warning is handed on (durably), by the response's decision, which
``submit`` waits for briefly: 200 ``apply`` or ``duplicate`` (nothing more to do); 409
``stale``, ``rejected`` or ``orphaned`` (kept, but it will never take effect); 202 ``held``
(waits for what it references) or ``pending`` (not decided yet), with ``Location`` naming
``GET /alerts/{id}``. Before that: 200 a ``test`` message, logged and ignored; 400 not UTF-8 or
not well-formed; 401 missing or wrong bearer token; 413 over the size limit; 415 unsupported
content type, or a body that is not what the type says; 422 well-formed but invalid (missing
field, unknown hazard, level or area ...), or valid but refused for good by a service behind
intake (``alerts.outage``: anything but an outage); 503 the hand-off failed for lack of a
service behind intake, retry; 408 the body did not arrive within the read timeout.

Every refusal is recorded with the bytes read (up to the size limit), also when the headers
alone decided it (415, a declared length over the limit): the body is read up to the limit
first. A body over the limit or late closes the connection.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from access.audit import warning_note, write_now
from access.http import Gate, GateConfig, SecurityHeaders, source_of
from access.matrix import Permission, Principal
from alerts.errors import AlertRejected, RejectCode
from alerts.intake import DEFAULT_MAX_BYTES, PayloadFormat, check_size, parse_alert
from alerts.outage import is_outage, refusal_reason
from alerts.wire import AlertDocument
from plans.model import Plan
from plans.warning import Alert, Route

logger = logging.getLogger("tidegate.http")

CHANNEL = "http"
_MEDIA_TYPES = {
    "application/json": PayloadFormat.JSON,
    "application/xml": PayloadFormat.CAP,
    "application/cap+xml": PayloadFormat.CAP,
    "text/xml": PayloadFormat.CAP,
}
_STATUS = {
    RejectCode.TIMEOUT: 408,
    RejectCode.TOO_LARGE: 413,
    RejectCode.MEDIA_TYPE: 415,
    RejectCode.ENCODING: 400,
    RejectCode.SYNTAX: 400,
    RejectCode.SCHEMA: 422,
}
_CLOSE = (RejectCode.TOO_LARGE, RejectCode.TIMEOUT)
"""Refusals that leave part of the body unread: the connection cannot be reused."""
READ_TIMEOUT_SECONDS = 30.0
"""How long a request body may take to arrive (``Settings.http_read_timeout_seconds``)."""


DECISION_STATUS = {
    "apply": 200,
    "duplicate": 200,
    "stale": 409,
    "rejected": 409,
    "orphaned": 409,
    "held": 202,
    "pending": 202,
}
"""HTTP status of a handed-on warning by decision (``alerts.decisions``); unknown: 202."""


@dataclass(frozen=True)
class SubmitResult:
    """What the hand-off to the response workflow reports back."""

    workflow_id: str | None
    """The workflow that now holds the warning (``None`` if the submitter routes nowhere)."""
    detail: str = ""
    decision: str = "pending"
    """The response's decision, or ``pending`` if it was not taken within the wait."""
    reason: str = ""
    response_id: str | None = None
    warning: str | None = None
    """Id of the first message of the warning the decision filed it under."""
    decided_at: str | None = None


class Submit(Protocol):
    """Hands a validated alert to its response workflow (durably, before returning)."""

    async def __call__(self, alert: Alert) -> SubmitResult: ...


class Lookup(Protocol):
    """Finds what tidegate knows about a message id, as a JSON-ready dict, or ``None``."""

    async def __call__(self, alert_id: str) -> dict[str, Any] | None: ...


class OnReject(Protocol):
    """Records a rejected payload: the bytes read (at most ``max_bytes``), why, and where."""

    async def __call__(self, raw: bytes, reason: str, channel: str) -> None: ...


async def _ignore_rejection(raw: bytes, reason: str, channel: str) -> None:
    return None


class Accepted(BaseModel):
    """The warning passed intake and was handed on (or, for ``test``, logged), and what the
    response decided about it."""

    id: str
    route: Route
    kind: str
    hazard: str
    level: str
    areas: list[str]
    workflow_id: str | None
    detail: str
    decision: str = Field(
        description="apply | duplicate | stale | held | rejected | orphaned (the response's "
        "decision), pending (queued, not decided yet) or ignored (a test message)."
    )
    reason: str = Field(description="Why, in words; for pending, how to look the decision up.")
    response_id: str | None = None
    warning: str | None = Field(
        default=None, description="Id of the first message of the warning it belongs to."
    )
    decided_at: str | None = None


class Rejected(BaseModel):
    """Why a request was refused."""

    detail: str
    field: str | None = None
    code: str


def create_app(
    submit: Submit,
    lookup: Lookup,
    auth: Gate | str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    on_reject: OnReject = _ignore_rejection,
    plan: Plan | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> FastAPI:
    """Build the intake API around injected hand-off, lookup and rejection recording.

    Args:
        submit: Hands an accepted alert to Temporal; an outage (:func:`alerts.outage.is_outage`)
            becomes a 503, any other exception a recorded refusal (422).
        lookup: Reads an alert by id for ``GET /alerts/{id}``.
        auth: Who may do what (:class:`access.http.Gate`): ``POST /alerts`` needs
            ``warning.issue`` for every area of the warning, ``GET /alerts/{id}``
            ``warning.read``. A string is a gate knowing only that development token.
        max_bytes: Payload size limit, as for every other channel.
        on_reject: Records rejected payloads (after authentication only, so anonymous
            callers cannot fill the database).
        plan: The plan whose catalogue names the areas, as for every channel (``None``: the
            bundled plan).
        read_timeout: Seconds the whole request body may take to arrive; a body that stalls
            gets 408 and its connection is closed instead of being held open.

    Returns:
        The FastAPI app, with OpenAPI docs at ``/docs``.

    Raises:
        ValueError: ``auth`` is an empty token.
    """
    if isinstance(auth, str):
        if not auth:
            raise ValueError("an API token is required")
        auth = Gate(None, GateConfig(dev_token=auth))
    gate = auth
    may_issue = Depends(gate.require(Permission.WARNING_ISSUE))
    may_read = Depends(gate.require(Permission.WARNING_READ))

    app = FastAPI(
        title="tidegate alert intake",
        summary="Take flood and typhoon warnings (JSON or CAP 1.2) from duty officers.",
        version="1",
    )
    app.state.gate = gate
    app.add_middleware(SecurityHeaders)

    async def audit(
        request: Request,
        who: Principal,
        alert: Alert | None,
        outcome: str,
        *,
        decision: str | None = None,
        reason: str | None = None,
    ) -> None:
        note = warning_note(
            who, source=source_of(request), alert=alert, outcome=outcome, decision=decision,
            reason=reason,
        )  # fmt: skip
        try:
            await write_now(gate.sessions, note)
        except Exception:
            logger.exception("could not write the audit entry for alert %s", note.target)

    async def refuse(
        raw: bytes, problem: AlertRejected, request: Request, who: Principal
    ) -> JSONResponse:
        await audit(request, who, None, "failed", reason=str(problem))
        try:
            await on_reject(raw, str(problem), CHANNEL)
        except Exception:
            logger.exception("could not record a rejected payload (%s)", problem)
        body = Rejected(detail=problem.reason, field=problem.field, code=problem.code.value)
        headers = {"Connection": "close"} if problem.code in _CLOSE else None
        return JSONResponse(body.model_dump(), status_code=_STATUS[problem.code], headers=headers)

    @app.post(
        "/alerts",
        status_code=200,
        response_model=Accepted,
        responses={
            200: {
                "model": Accepted,
                "description": "Decided: applied, or a duplicate (nothing to do); or a test "
                "message, logged and ignored.",
            },
            202: {
                "model": Accepted,
                "description": "Queued: held until what it references arrives, or decision "
                "pending. `Location` names GET /alerts/{id}.",
            },
            409: {
                "model": Accepted,
                "description": "Kept, but stale, rejected or orphaned: it will not take effect.",
            },
            **{code: {"model": Rejected} for code in (400, 408, 413, 415, 422)},
            401: {"description": "Missing or wrong bearer token."},
            403: {"description": "The token's role may not issue this warning (its areas)."},
            429: {"description": "Too many warnings from this principal; retry later."},
            503: {"model": Rejected, "description": "Hand-off failed; retry."},
        },
        openapi_extra=_request_body(),
    )
    async def post_alert(request: Request, who: Principal = may_issue) -> JSONResponse:
        """Validate a warning (JSON or CAP 1.2 XML) and hand it to its response workflow."""
        gate.limit(gate.intake_limit, who.name)
        body = bytearray()
        try:
            expect = await _read_checked(request, body, max_bytes, read_timeout)
            alert = parse_alert(bytes(body), plan=plan, max_bytes=max_bytes, expect=expect)
        except AlertRejected as problem:
            return await refuse(bytes(body[:max_bytes]), problem, request, who)
        await gate.check(request, who, Permission.WARNING_ISSUE, districts=alert.areas)
        if alert.route is Route.IGNORED:
            logger.info("test message %s from %s logged and ignored", alert.id, alert.sender)
            ignored = SubmitResult(None, "status test: logged and ignored", "ignored")
            await audit(request, who, alert, "ok", decision=ignored.decision)
            return _accepted(alert, ignored, 200)
        try:
            result = await submit(alert)
        except Exception as exc:
            logger.exception("could not hand alert %s on", alert.id)
            if not is_outage(exc):  # retrying cannot help: refuse it, as Kafka intake does
                reason = refusal_reason(exc, stage="handed on")
                return await refuse(bytes(body), AlertRejected(reason), request, who)
            await audit(request, who, alert, "failed", reason="could not be handed on")
            failed = Rejected(detail="valid, but could not be handed on; retry", code="unavailable")
            return JSONResponse(failed.model_dump(), status_code=503)
        await audit(request, who, alert, "ok", decision=result.decision)
        return _accepted(alert, result, DECISION_STATUS.get(result.decision, 202))

    @app.get(
        "/alerts/{alert_id:path}",
        responses={
            401: {"description": "Missing or wrong bearer token."},
            403: {"description": "The token's role may not read warnings."},
            404: {},
        },
    )
    async def get_alert(alert_id: str, who: Principal = may_read) -> dict[str, Any]:
        """What tidegate knows about one message: the warning, its routing and decisions."""
        found = await lookup(alert_id)
        if found is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        return found

    return app


def _media_type(header: str) -> PayloadFormat:
    media, *params = (part.strip() for part in header.split(";"))
    expect = _MEDIA_TYPES.get(media.lower())
    if expect is None:
        allowed = ", ".join(_MEDIA_TYPES)
        raise AlertRejected(
            f"Content-Type {media[:60]!r} is not one of {allowed}", code=RejectCode.MEDIA_TYPE
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip(" \"'").lower() not in (
            "utf-8",
            "utf8",
        ):
            raise AlertRejected(
                f"charset {value.strip()[:20]!r} is not accepted; send UTF-8",
                code=RejectCode.MEDIA_TYPE,
            )
    return expect


async def _read_checked(
    request: Request, body: bytearray, max_bytes: int, read_seconds: float
) -> PayloadFormat:
    """Check the headers, read the body into ``body`` and return the declared format.

    A refusal the headers decide (content type, declared length) is raised only once the
    body has been read up to the limit, so the rejection keeps the bytes that were sent.
    """
    header_problem: AlertRejected | None = None
    expect = PayloadFormat.JSON
    try:
        expect = _media_type(request.headers.get("content-type", ""))
        declared = request.headers.get("content-length", "")
        if declared.isdigit():
            check_size(int(declared), max_bytes)
    except AlertRejected as problem:
        header_problem = problem
    try:
        await _read(request, body, max_bytes, read_seconds)
    except AlertRejected as read_problem:
        raise header_problem or read_problem from None
    if header_problem is not None:
        raise header_problem
    return expect


async def _read(request: Request, body: bytearray, max_bytes: int, read_seconds: float) -> None:
    """Read the body into ``body``, stopping at the first chunk past the limit or the deadline."""
    try:
        async with asyncio.timeout(read_seconds):
            async for chunk in request.stream():
                body += chunk
                check_size(len(body), max_bytes)
    except TimeoutError:
        raise AlertRejected(
            f"the request body did not arrive within {read_seconds:g} s ({len(body)} bytes read)",
            code=RejectCode.TIMEOUT,
        ) from None


def _accepted(alert: Alert, result: SubmitResult, status: int) -> JSONResponse:
    body = Accepted(
        id=alert.id,
        route=alert.route,
        kind=alert.kind.value,
        hazard=alert.hazard.value,
        level=alert.level.value,
        areas=list(alert.areas),
        workflow_id=result.workflow_id,
        detail=result.detail,
        decision=result.decision,
        reason=result.reason,
        response_id=result.response_id,
        warning=result.warning,
        decided_at=result.decided_at,
    )
    headers = {"Location": f"/alerts/{quote(alert.id, safe='')}"} if status == 202 else None
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _request_body() -> dict[str, Any]:
    xml = {"schema": {"type": "string", "description": "A CAP 1.2 <alert> document, UTF-8."}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": AlertDocument.model_json_schema(),
                    "example": AlertDocument.example,
                },
                "application/cap+xml": xml,
                "application/xml": xml,
            },
        }
    }
