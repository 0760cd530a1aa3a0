"""The agency task API: an agency desk or an agency's system sees and answers its own tasks.

``GET /agency/tasks`` lists open tasks (an agency-bound principal: its agency's; the city's
readers: ``?agency=``), ``GET /agency/tasks/{task_id}`` shows one, and
``POST /agency/tasks/{task_id}/acknowledge|progress|complete|decline`` answers it, with an
optional JSON body ``{"by": "...", "reason": "..."}`` (a decline needs the reason). Answers go
through :func:`access.answers.answer_as`: parsed as on Kafka, allowed only for the task's own
agency, delivered to the task's workflow, audited.

Status codes of an answer: 200 delivered; 401 no valid token or session; 403 not this
principal's agency's task (or a role that does not answer tasks); 422 a malformed answer, or a
task that cannot take it (unknown, closed, a drill task); 503 Temporal or the database is down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from access.answers import KINDS, Answer, answer_as, visible_task
from access.http import Gate, source_of
from access.matrix import AGENCY_ROLES, Forbidden, Permission, Principal
from alerts.kafka import Refused
from alerts.outage import is_outage
from plans.lifecycle import OPEN_STATES
from store.models import TaskRecord

if TYPE_CHECKING:
    from workflows.tracking import AnswerRoute

log = logging.getLogger("tidegate.http")

MAX_LISTED = 500
_OPTIONAL_BODY = Body(default=None)


class AnswerBody(BaseModel):
    """What an answer may add: who in the agency, and why (a decline needs it)."""

    by: str = Field(default="", description="The team or person (after the account's name).")
    reason: str = Field(default="", description="Why; required to decline.")


def task_view(row: TaskRecord) -> dict[str, Any]:
    """A task as the agency API shows it."""
    return {
        "id": row.id,
        "response_id": row.response_id,
        "agency": row.agency,
        "action": row.action_id,
        "area": row.area,
        "asset": row.asset,
        "hazard": row.hazard,
        "response_level": row.response_level,
        "state": row.state,
        "issued_at": row.issued_at.isoformat(),
        "deadline": row.deadline_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def agency_router(gate: Gate, answers: Callable[[], Awaitable[AnswerRoute]]) -> APIRouter:
    """The agency task API over ``gate`` (who) and ``answers`` (where live answers go)."""
    router = APIRouter(prefix="/agency/tasks", tags=["agency"])
    may_read = Depends(gate.require(Permission.TASK_READ))
    may_answer = Depends(gate.require(Permission.TASK_ANSWER))

    @router.get("")
    async def list_tasks(
        request: Request, agency: str | None = None, who: Principal = may_read
    ) -> dict[str, Any]:
        """Open live tasks of an agency (an agency desk: its own, the default)."""
        chosen = agency or (who.agency if who.role in AGENCY_ROLES else None)
        await gate.check(request, who, Permission.TASK_READ, agency=chosen)
        assert gate.sessions is not None
        query = (
            select(TaskRecord)
            .where(TaskRecord.state.in_([s.value for s in OPEN_STATES]))
            .where(TaskRecord.drill.is_(False))
            .order_by(TaskRecord.issued_at, TaskRecord.id)
            .limit(MAX_LISTED)
        )
        if chosen:
            query = query.where(TaskRecord.agency == chosen)
        async with gate.sessions() as session:
            rows = (await session.scalars(query)).all()
        return {"agency": chosen, "tasks": [task_view(r) for r in rows]}

    @router.get("/{task_id:path}", responses={403: {}, 404: {}})
    async def show_task(request: Request, task_id: str, who: Principal = may_read) -> Any:
        """One task, if it is the principal's agency's (or the principal reads the city)."""
        assert gate.sessions is not None
        try:
            row = await visible_task(gate.sessions, who, task_id, source=source_of(request))
        except Forbidden as exc:
            raise HTTPException(403, exc.reason) from None
        if row is None:
            raise HTTPException(404, f"no task {task_id!r}")
        return task_view(row)

    def answer_route(kind: str) -> None:
        async def post_answer(
            request: Request,
            task_id: str,
            body: AnswerBody | None = _OPTIONAL_BODY,
            who: Principal = may_answer,
        ) -> JSONResponse:
            given = body or AnswerBody()
            answer = Answer(task_id, kind, given.by, given.reason)
            try:
                assert gate.sessions is not None
                await answer_as(gate.sessions, answers, who, answer, source=source_of(request))
            except Forbidden as exc:
                raise HTTPException(403, exc.reason) from None
            except Refused as exc:
                return JSONResponse({"detail": exc.reason, "result": "rejected"}, 422)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("answer to %s not delivered: %s", task_id, exc.__class__.__name__)
                return JSONResponse(
                    {"detail": "not delivered; retry", "result": "unreachable"}, 503
                )
            return JSONResponse({"task_id": task_id, "kind": kind, "result": "delivered"})

        post_answer.__name__ = f"{kind}_task"
        post_answer.__doc__ = f"Answer a task of the principal's agency: {kind}."
        router.add_api_route(
            f"/{{task_id:path}}/{kind}",
            post_answer,
            methods=["POST"],
            responses={403: {}, 422: {}, 503: {}},
        )

    for kind in KINDS:
        answer_route(kind)
    return router
