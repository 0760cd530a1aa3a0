"""Agency desks: ``/agency/<agency>`` in the browser, ``POST /agency/tasks/{id}/{action}`` for
an agency's own system.

Both go the same way as every other channel's answer: the answer is validated as the
``tidegate.tasks.events`` message it stands for (:func:`alerts.agency_events.parse_event`) and
handed to the task's workflow (:func:`alerts.agency_events.deliver`, i.e.
``workflows.tracking.answer_task`` over ``Runtime.answers()``). Before that the console checks
it against the task as the sender saw it: an answer from a page showing a state the task has
left since (``expected_state``), or one the task can no longer take (a closed task, a second
acknowledgement), is a conflict (409) with a sentence saying what the task is now, never a
silent overwrite. After handing it on, the answer waits briefly until the workflow has
recorded it, so the page and the caller see the task's new state.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from alerts import wire
from alerts.agency_events import deliver, parse_event
from alerts.kafka import Refused
from console.auth import NotAllowed, Permission, Principal, audit, require
from console.situation import TaskLine, escalation_steps, task_line
from console.web import ConsoleServices, render, services
from plans.lifecycle import OPEN_STATES, UNANSWERED_STATES
from plans.render import render_task
from store.models import ResponseRecord, TaskEventRecord, TaskRecord
from store.plans import PlanLibrary
from workflows.types import Tracking

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

api = APIRouter()
"""The JSON answer API (in OpenAPI)."""
router = APIRouter(include_in_schema=False)
"""The desk's pages."""
Answerer = Annotated[Principal, Depends(require(Permission.ANSWER_TASKS))]

Action = Literal["acknowledge", "progress", "complete", "decline"]
RECORD_WAIT_SECONDS = 5.0
"""How long an answer waits for the task's workflow to record it before answering 202."""
ALLOWED: dict[str, tuple[str, ...]] = {
    "acknowledge": tuple(str(s) for s in UNANSWERED_STATES),
    "progress": tuple(str(s) for s in OPEN_STATES),
    "complete": tuple(str(s) for s in OPEN_STATES),
    "decline": tuple(str(s) for s in OPEN_STATES),
}
"""The states in which a task takes each answer (as ``workflows.task.TaskWorkflow`` applies
them: a second acknowledgement, or any answer to a closed task, changes nothing)."""


class AnswerBody(BaseModel):
    """An agency's answer to one task."""

    by: str = Field("", description="Who answers (team, desk or person): one line.")
    reason: str = Field("", description="Why: required to decline; a note otherwise.")
    expected_state: str | None = Field(
        None,
        description="The state the sender last saw (dispatched, escalated, acknowledged, ...). "
        "If the task has moved on since, the answer is refused with 409 and not delivered.",
    )


class AnswerResult(BaseModel):
    """What became of the answer."""

    task_id: str
    action: str
    result: Literal["recorded", "delivered", "conflict", "refused"]
    """``recorded``: the task's workflow applied and recorded it; ``delivered``: handed on,
    not recorded yet (look again); ``conflict``: not delivered, the task changed or cannot
    take it; ``refused``: not delivered, invalid."""
    state: str | None
    """The task's state now (after the answer, when recorded)."""
    previous_state: str | None
    detail: str


@dataclass(frozen=True)
class Outcome:
    """An answer's result with the HTTP status it maps to."""

    status: int
    body: AnswerResult


@api.post(
    "/agency/tasks/{task_id:path}/{action}",
    response_model=AnswerResult,
    tags=["agency"],
    summary="Answer a task: acknowledge, progress, complete or decline",
    responses={
        202: {"model": AnswerResult, "description": "Delivered, not recorded yet."},
        401: {"description": "Missing or wrong bearer token."},
        403: {"description": "Not this principal's agency."},
        404: {"model": AnswerResult, "description": "No such task."},
        409: {
            "model": AnswerResult,
            "description": "The task changed since `expected_state`, or cannot take this "
            "answer (closed, already acknowledged). Nothing was delivered.",
        },
        422: {"model": AnswerResult, "description": "Invalid answer (a decline needs a reason)."},
    },
)
async def answer_api(
    request: Request, task_id: str, action: Action, body: AnswerBody, principal: Answerer
) -> JSONResponse:
    """The same answer an agency can put on ``tidegate.tasks.events`` or give with
    ``tidegate agency ack|progress|complete|decline``, for an agency's own system.

    The task id holds ``/`` (``<response id>/<action>@<area>``); send it as it is. With
    ``expected_state`` the answer is refused (409) if the task is no longer in that state.
    """
    outcome = await answer(
        services(request), principal, task_id, action, body.by, body.reason, body.expected_state
    )
    await _audit(request, outcome)
    return JSONResponse(outcome.body.model_dump(), status_code=outcome.status)


async def _audit(request: Request, outcome: Outcome) -> None:
    body = outcome.body
    done = body.result in ("recorded", "delivered")
    await audit(
        request, "task.answered", body.task_id, "ok" if done else "refused",
        kind=body.action, result=body.result, detail=body.detail[:300],
    )  # fmt: skip


async def answer(
    svc: ConsoleServices,
    principal: Principal,
    task_id: str,
    action: str,
    by: str,
    reason: str,
    expected: str | None,
) -> Outcome:
    """Check the answer against the task, deliver it, wait briefly until it is recorded."""

    def result(
        status: int, kind: str, state: str | None, before: str | None, detail: str
    ) -> Outcome:
        body = AnswerResult(
            task_id=task_id,
            action=action,
            result=kind,  # type: ignore[arg-type]
            state=state,
            previous_state=before,
            detail=detail,
        )
        return Outcome(status, body)

    async with svc.sessions() as session:
        row = await session.get(TaskRecord, task_id)
        seen = await _last_event(session, task_id)
    if row is None or row.drill:
        return result(404, "refused", None, None, f"no task {task_id!r}")
    if not principal.may_answer_for(row.agency):
        raise NotAllowed(principal, Permission.ANSWER_TASKS, row.agency)
    if expected and expected != row.state:
        return result(
            409,
            "conflict",
            row.state,
            row.state,
            f"the task is {row.state} now, not {expected}: it changed since you looked "
            f"(at {row.updated_at.isoformat()}); nothing was sent",
        )
    if row.state not in ALLOWED.get(action, ()):
        why = "closed" if row.state not in OPEN_STATES else f"already {row.state}"
        return result(
            409, "conflict", row.state, row.state, f"the task is {why}; {action} changes nothing"
        )
    payload = {"task_id": task_id, "kind": action, "by": by.strip() or principal.name}
    if reason.strip():
        payload["reason"] = reason
    try:
        event = parse_event(json.dumps(payload, ensure_ascii=False).encode())
        await deliver(svc.answers, event)
    except Refused as exc:
        return result(422, "refused", row.state, row.state, exc.reason)
    state = await _recorded(svc, task_id, seen)
    if state is None:
        return result(
            202,
            "delivered",
            row.state,
            row.state,
            "delivered; the task's workflow has not recorded it yet (is the worker running?)",
        )
    return result(200, "recorded", state, row.state, f"{action}: {row.state} -> {state}")


async def _last_event(session: AsyncSession, task_id: str) -> int:
    found = await session.scalar(
        select(func.max(TaskEventRecord.id)).where(TaskEventRecord.task_id == task_id)
    )
    return int(found or 0)


async def _recorded(svc: ConsoleServices, task_id: str, seen: int) -> str | None:
    """The task's state once a transition after ``seen`` is recorded; ``None`` if not in time."""
    deadline = time.monotonic() + RECORD_WAIT_SECONDS
    while time.monotonic() < deadline:
        async with svc.sessions() as session:
            if await _last_event(session, task_id) > seen:
                row = await session.get(TaskRecord, task_id)
                return row.state if row else None
        await asyncio.sleep(0.1)
    return None


# --- pages ------------------------------------------------------------------------------------


@router.get("/agency")
async def agencies(request: Request, principal: Answerer) -> Response:
    """Every agency of the plan with its open tasks; an agency desk goes straight to its own."""
    svc = services(request)
    if principal.agency is not None:
        return RedirectResponse(f"/agency/{principal.agency}", status_code=303)
    async with svc.sessions() as session:
        counts = dict(
            (
                await session.execute(
                    select(TaskRecord.agency, func.count())
                    .where(TaskRecord.drill.is_(False), TaskRecord.state.in_(OPEN_STATES))
                    .group_by(TaskRecord.agency)
                )
            ).all()
        )
    return render(request, "agencies.html", principal=principal, counts=counts)


@router.get("/agency/{agency}")
async def desk(request: Request, agency: str, principal: Answerer) -> HTMLResponse:
    """An agency's open tasks by deadline, with what to do and the answers."""
    svc = services(request)
    if agency not in {a.id for a in svc.plan.agencies}:
        raise HTTPException(404, f"no agency {agency!r} in the plan")
    if not principal.may_answer_for(agency):
        raise NotAllowed(principal, Permission.ANSWER_TASKS, agency)
    live = request.query_params.get("part") == "live"
    tasks, closed = await desk_tasks(svc, agency)
    message = {k: request.query_params.get(k, "") for k in ("ok", "conflict", "task")}
    return render(
        request,
        "desk_live.html" if live else "desk.html",
        principal=principal,
        agency=agency,
        tasks=tasks,
        closed=closed,
        message=message,
        limits={"by": wire.MAX_BY_CHARS, "reason": wire.MAX_NOTE_CHARS},
    )


@dataclass(frozen=True)
class DeskTask:
    """A task on a desk, with its instructions."""

    line: TaskLine
    instructions: dict[str, str]


async def desk_tasks(svc: ConsoleServices, agency: str) -> tuple[list[DeskTask], list[TaskLine]]:
    """The agency's open live tasks (by deadline), and its last closed ones."""
    now = datetime.now(UTC)
    async with svc.sessions() as session:
        live = select(ResponseRecord.id).where(ResponseRecord.drill.is_(False))
        rows = (
            await session.scalars(
                select(TaskRecord)
                .where(
                    TaskRecord.agency == agency,
                    TaskRecord.response_id.in_(live),
                    TaskRecord.state.in_(OPEN_STATES),
                )
                .order_by(TaskRecord.deadline_at, TaskRecord.id)
            )
        ).all()
        closed_rows = (
            await session.scalars(
                select(TaskRecord)
                .where(
                    TaskRecord.agency == agency,
                    TaskRecord.response_id.in_(live),
                    TaskRecord.state.not_in(OPEN_STATES),
                )
                .order_by(TaskRecord.updated_at.desc())
                .limit(10)
            )
        ).all()
        steps = await escalation_steps(session, sorted({r.response_id for r in rows}))
    library = PlanLibrary(svc.sessions, svc.plan)
    tasks = []
    for row in rows:
        tasks.append(
            DeskTask(task_line(row, steps.get(row.id), now), await _instructions(library, row))
        )
    return tasks, [task_line(r, None, now) for r in closed_rows]


async def _instructions(library: PlanLibrary, row: TaskRecord) -> dict[str, str]:
    """The task's instructions in every language, from the plan its response pinned."""
    if row.tracking is None:
        return {}
    try:
        task = Tracking.decode(row.tracking).input.task
        plan = await library.get(Tracking.decode(row.tracking).input.plan_hash)
        return render_task(plan, task)
    except Exception:  # an old row or a plan gone: the desk still shows the task
        return {}


@router.post("/agency/{agency}/answer")
async def answer_form(
    request: Request,
    agency: str,
    principal: Answerer,
    task_id: str = Form(...),
    action: str = Form(...),
    expected_state: str = Form(""),
    by: str = Form(""),
    reason: str = Form(""),
) -> Response:
    """The desk's buttons: answer, then back to the desk saying what happened."""
    if action not in ALLOWED:
        raise HTTPException(422, f"unknown action {action!r}")
    outcome = await answer(
        services(request), principal, task_id, action, by, reason, expected_state or None
    )
    await _audit(request, outcome)
    body = outcome.body
    if outcome.status in (200, 202):
        query = {"ok": f"{action}: {body.previous_state} → {body.state}", "task": task_id}
    else:
        query = {"conflict": body.detail, "task": task_id}
    return RedirectResponse(f"/agency/{agency}?{urlencode(query)}", status_code=303)
