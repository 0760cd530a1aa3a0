"""The situation board (``/``), a response's detail page, and the live event stream."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select

from console.auth import Permission, Principal, authenticated, require
from console.live import event_stream
from console.situation import escalation_steps, gather, task_line
from console.web import render, services
from plans.model import ActiveWarning, Hazard, Level
from plans.rules import respond
from store.models import EscalationRecord, ResponseRecord, TaskEventRecord, TaskRecord
from store.plans import PlanLibrary
from store.queries import warnings_by_id
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id
from workflows.types import ResponseStatus

router = APIRouter(include_in_schema=False)
_QUERY_TIMEOUT = timedelta(seconds=2)
DETAIL_TASKS = 500
"""Tasks a response's page lists (overdue and escalated first, then open ones by deadline);
the counts cover all of them."""
Viewer = Annotated[Principal, Depends(require(Permission.VIEW_BOARD))]


@router.get("/")
async def board(request: Request, principal: Viewer) -> HTMLResponse:
    """The situation board."""
    situation = await gather(services(request).sessions, services(request).client, _now())
    return render(request, "board.html", principal=principal, s=situation)


@router.get("/board/live")
async def board_live(request: Request, principal: Viewer) -> HTMLResponse:
    """The board's live part, fetched again by the page at every change."""
    situation = await gather(services(request).sessions, services(request).client, _now())
    return render(request, "board_live.html", principal=principal, s=situation)


@router.get("/events")
async def events(
    request: Request, principal: Annotated[Principal, Depends(authenticated)]
) -> StreamingResponse:
    """Server-sent events: ``change`` whenever the board may have changed (no content: every
    signed-in page, an agency desk's too, then fetches what it may see)."""
    return StreamingResponse(
        event_stream(services(request).feed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/responses/{response_id:path}")
async def response_detail(request: Request, response_id: str, principal: Viewer) -> HTMLResponse:
    """Every task of a response with its state history, escalations and notices."""
    live = request.query_params.get("part") == "live"
    svc = services(request)
    now = _now()
    async with svc.sessions() as session:
        response = await session.get(ResponseRecord, response_id)
        if response is None:
            raise HTTPException(404, f"no response {response_id!r}")
        tasks = (
            await session.scalars(
                select(TaskRecord)
                .where(TaskRecord.response_id == response_id)
                .order_by(TaskRecord.agency, TaskRecord.area, TaskRecord.id)
            )
        ).all()
        steps = await escalation_steps(session, [response_id])
        events = await session.execute(
            select(TaskEventRecord)
            .join(TaskRecord, TaskRecord.id == TaskEventRecord.task_id)
            .where(TaskRecord.response_id == response_id)
            .order_by(TaskEventRecord.at, TaskEventRecord.id)
        )
        history: dict[str, list[TaskEventRecord]] = defaultdict(list)
        for (event,) in events:
            history[event.task_id].append(event)
        escalations = (
            await session.scalars(
                select(EscalationRecord)
                .where(EscalationRecord.response_id == response_id)
                .order_by(EscalationRecord.at.desc())
            )
        ).all()
    workflow_id = response_workflow_id(response.region, response.drill)
    in_force, notices = await _notices(request, response, workflow_id)
    lines = [task_line(t, steps.get(t.id), now) for t in tasks]
    lines.sort(key=lambda t: (not t.attention, not t.is_open, t.deadline_at))
    shown = lines[:DETAIL_TASKS]
    return render(
        request,
        "response_live.html" if live else "response.html",
        principal=principal,
        r=response,
        workflow_id=workflow_id,
        temporal_url=svc.temporal_ui(workflow_id),
        tasks=shown,
        total=len(lines),
        history=history,
        escalations=escalations,
        in_force=in_force,
        notices=notices,
    )


async def _notices(
    request: Request, response: ResponseRecord, workflow_id: str
) -> tuple[list[str] | None, list[tuple[str, str, str, str]] | None]:
    """The warnings in force (from the workflow) and the notices the response's plan gives for
    them: (spec, area, level, audience). ``None``: the workflow did not answer."""
    svc = services(request)
    if response.status == "closed":
        return [], []
    try:
        answer = await svc.client.get_workflow_handle(workflow_id).query(
            ResponseWorkflow.status, rpc_timeout=_QUERY_TIMEOUT
        )
    except Exception:  # no worker, or no such workflow
        return None, None
    if not isinstance(answer, ResponseStatus) or answer.response_id != response.id:
        return None, None
    async with svc.sessions() as session:
        records = await warnings_by_id(session, answer.active_warnings)
    warnings = [
        ActiveWarning(Hazard(r.hazard), Level(r.level), tuple(r.areas)) for r in records.values()
    ]
    try:
        plan = await PlanLibrary(svc.sessions, svc.plan).get(response.plan_hash)
        notices = respond(warnings, plan).notices
    except (LookupError, ValueError):
        return list(answer.active_warnings), None
    return list(answer.active_warnings), [
        (n.spec_id, n.area, str(n.response_level), str(n.audience)) for n in notices
    ]


def _now() -> datetime:
    return datetime.now(UTC)
