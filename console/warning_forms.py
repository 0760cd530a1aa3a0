"""Warnings from the console: issue, update and cancel, with a preview before anything is sent.

A form becomes the documented JSON warning and goes through the same intake as the CLI, HTTP
and Kafka (:func:`alerts.intake.parse_alert` with the configured plan, then
:func:`alerts.decisions.hand_over`), so the console accepts and refuses exactly what they do,
with the same messages; a refusal is shown beside the field it names and recorded in the
``rejections`` table (channel ``console``), and the form keeps what was typed.

The preview asks the pure plan functions (:func:`plans.rules.respond` and
:func:`plans.rules.diff`) what the warnings in force plus this message would give: the level
changes per area and the tasks per agency to dispatch or stand down. Nothing is sent. After
submitting, the page shows the response's real decision (applied, duplicate, stale, held,
rejected), or "queued, decision pending" when the worker has not decided in time.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from alerts.decisions import DecisionReport, hand_over
from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from alerts.services import record_rejection
from console.auth import Permission, Principal, audit, require
from console.web import SHANGHAI, ConsoleServices, render, services
from plans.model import ActiveWarning, Diff, Hazard, Level
from plans.rules import diff, respond
from plans.warning import Alert, Kind
from store.queries import warning as find_warning
from store.queries import warning_decisions, warnings_by_id
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id
from workflows.types import ResponseStatus

log = logging.getLogger("tidegate.console")
router = APIRouter(include_in_schema=False)
Officer = Annotated[Principal, Depends(require(Permission.ISSUE_WARNINGS))]
CHANNEL = "console"
QUERY_TIMEOUT = timedelta(seconds=2)
"""How long the page waits for the response workflow to say what is in force."""
KINDS = ("alert", "update", "cancel")


@dataclass(frozen=True)
class Current:
    """A message in force in the live response, with the warning it belongs to."""

    id: str
    warning: str
    """Id of the first message of its warning."""
    hazard: str
    level: str
    areas: tuple[str, ...]

    def active(self) -> ActiveWarning:
        """What the plan needs of it."""
        return ActiveWarning(Hazard(self.hazard), Level(self.level), self.areas)


@dataclass(frozen=True)
class Preview:
    """What the plan does with the message, against what is in force now."""

    change: Diff
    dispatch: dict[str, int]
    """Agency to the number of tasks to dispatch."""
    stand_down: dict[str, int]
    levels_after: dict[str, str]


@router.get("/warnings")
async def page(request: Request, principal: Officer) -> HTMLResponse:
    """The three forms, the warnings in force, and the messages received lately."""
    kind = request.query_params.get("kind", "alert")
    return await _page(request, principal, {"kind": kind if kind in KINDS else "alert"})


@router.post("/warnings/preview")
async def preview(request: Request, principal: Officer) -> HTMLResponse:
    """The form again, with what the plan would do. Nothing is sent."""
    form = await _form(request)
    svc = services(request)
    in_force = await current(svc)
    try:
        alert = await _alert(svc, form, principal)
    except AlertRejected as problem:
        return await _page(request, principal, form, error=problem, status=422, in_force=in_force)
    shown = _preview(svc, alert, in_force)
    return await _page(request, principal, form, preview=shown, in_force=in_force)


@router.post("/warnings/submit")
async def submit(request: Request, principal: Officer) -> HTMLResponse:
    """Validate like every channel, hand on, and show the response's decision."""
    form = await _form(request)
    svc = services(request)
    try:
        alert = await _alert(svc, form, principal)
    except AlertRejected as problem:
        await _record(svc, form, str(problem))
        return await _page(request, principal, form, error=problem, status=422)
    try:
        got = await hand_over(
            svc.client,
            svc.sessions,
            svc.settings.task_queue,
            svc.settings.region,
            svc.plan,
            alert,
            svc.settings.decision_wait_seconds,
        )
    except Exception as exc:
        log.exception("could not hand warning %s on", alert.id)
        down = AlertRejected(f"not sent: could not reach Temporal ({exc.__class__.__name__})")
        return await _page(request, principal, form, error=down, status=503)
    await audit(
        request, "warning.received", alert.id, "ok", kind=alert.kind.value,
        hazard=alert.hazard.value, level=alert.level.value, areas=list(alert.areas),
        decision=got.decision,
    )  # fmt: skip
    fresh = {"kind": form.get("kind", "alert")}
    return await _page(request, principal, fresh, result=got, sent=alert)


async def _form(request: Request) -> dict[str, Any]:
    data = await request.form()
    form: dict[str, Any] = {k: str(v) for k, v in data.items() if k != "areas"}
    form["areas"] = [str(v) for v in data.getlist("areas")]
    form["kind"] = form.get("kind") if form.get("kind") in KINDS else "alert"
    return form


async def _page(
    request: Request,
    principal: Principal,
    form: dict[str, Any],
    *,
    error: AlertRejected | None = None,
    preview: Preview | None = None,
    result: DecisionReport | None = None,
    sent: Alert | None = None,
    status: int = 200,
    in_force: list[Current] | None = None,
) -> HTMLResponse:
    svc = services(request)
    return render(
        request,
        "warnings.html",
        status,
        principal=principal,
        form=form,
        error=error,
        preview=preview,
        result=result,
        sent=sent,
        in_force=in_force if in_force is not None else await current(svc),
        hazards=[h.value for h in Hazard],
        colours=[c.value for c in Level],
    )


async def current(svc: ConsoleServices) -> list[Current]:
    """The messages in force in the region's live response (``[]`` if none, or no answer)."""
    workflow_id = response_workflow_id(svc.settings.region, drill=False)
    try:
        answer = await svc.client.get_workflow_handle(workflow_id).query(
            ResponseWorkflow.status, rpc_timeout=QUERY_TIMEOUT
        )
    except Exception:  # no response running (or no worker): nothing to preview against
        return []
    if not isinstance(answer, ResponseStatus):
        return []
    async with svc.sessions() as session:
        records = await warnings_by_id(session, answer.active_warnings)
        out = []
        for message_id in answer.active_warnings:
            record = records.get(message_id)
            if record is None:
                continue
            decided = await warning_decisions(session, record)
            first = next((d.warning for d in decided if d.warning), message_id)
            out.append(Current(message_id, first, record.hazard, record.level, tuple(record.areas)))
    return out


async def _alert(svc: ConsoleServices, form: dict[str, Any], principal: Principal) -> Alert:
    """The form as the JSON warning every channel takes, through the same ``parse_alert``."""
    kind = form["kind"]
    document: dict[str, Any] = {
        "id": form.get("id", "").strip() or f"console-{uuid.uuid4().hex[:12]}",
        "sender": f"{principal.name}@console",
        "sent": datetime.now(UTC).isoformat(),
        "status": "exercise" if form.get("exercise") else "actual",
        "kind": kind,
    }
    if kind == "cancel":
        reference = form.get("reference", "").strip()
        if not reference:
            raise AlertRejected("name the warning to cancel", field="references")
        async with svc.sessions() as session:
            found = await find_warning(session, reference)
        if found is None:
            raise AlertRejected(f"no warning {reference!r} has been received", field="references")
        document |= {
            "references": [reference],
            "hazard": found.hazard,
            "level": found.level,
            "areas": list(found.areas),
        }
    else:
        areas = list(form.get("areas", []))
        extra = form.get("other_areas", "").strip()
        if extra:
            areas.append(extra)
        document |= {
            "hazard": form.get("hazard", ""),
            "level": form.get("level", ""),
            "areas": areas,
            "headline": form.get("headline", ""),
        }
        expires = form.get("expires", "").strip()
        if expires:
            document["expires"] = _local_instant(expires)
        if kind == "update":
            reference = form.get("reference", "").strip()
            document["references"] = [reference] if reference else []
    payload = json.dumps(document, ensure_ascii=False).encode()
    form["_payload"] = payload
    return parse_alert(payload, plan=svc.plan, max_bytes=svc.settings.max_alert_bytes)


def _local_instant(text: str) -> str:
    """A ``datetime-local`` value (the HQ's clock, UTC+8) as an ISO instant; other text as is
    (intake then says what is wrong with it)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return (moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)).isoformat()


def _preview(svc: ConsoleServices, alert: Alert, in_force: list[Current]) -> Preview:
    """The plan's answer to the warnings in force, and to them with ``alert`` applied."""
    replaced = set(alert.references)
    warnings_of = {c.warning for c in in_force if c.id in replaced or c.warning in replaced}
    keep = [
        c.active()
        for c in in_force
        if c.id not in replaced and c.warning not in replaced and c.warning not in warnings_of
    ]
    before = respond([c.active() for c in in_force], svc.plan)
    after_warnings = keep if alert.kind is Kind.CANCEL else [*keep, alert.to_active()]
    after = respond(after_warnings, svc.plan)
    change = diff(before, after)
    return Preview(
        change=change,
        dispatch=dict(sorted(Counter(t.agency for t in change.dispatch).items())),
        stand_down=dict(sorted(Counter(t.agency for t in change.stand_down).items())),
        levels_after={a: str(v) for a, v in after.levels.items()},
    )


async def _record(svc: ConsoleServices, form: dict[str, Any], reason: str) -> None:
    """Keep a refused form like any channel's refusal (best effort: the page says why)."""
    payload = (
        form.get("_payload")
        or json.dumps(
            {k: v for k, v in form.items() if not k.startswith("_")}, ensure_ascii=False
        ).encode()
    )
    try:
        await record_rejection(svc.sessions, CHANNEL, payload, reason)
    except Exception as exc:
        log.warning("could not record a refused console warning: %s", exc)
