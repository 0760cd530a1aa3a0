"""The plan in the browser: levels, actions and tasks per hazard and level, and the explainer.

Everything here is the plan's pure functions (:func:`plans.rules.assess` and
:func:`plans.rules.respond`) over the configured plan, as ``tidegate plan explain`` uses them:
what the page shows is what a response would dispatch. Nothing is sent.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from console.auth import Permission, Principal, require
from console.web import render, services
from plans.catalogue import read_areas
from plans.errors import PlanError, UnknownNameError
from plans.model import CITYWIDE, RESPONSE_LEVELS, ActiveWarning, Hazard, Level
from plans.rules import assess, respond

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require(Permission.VIEW_BOARD))]
ROWS = 3
"""Warnings the explainer takes at once."""


@router.get("/plan")
async def plan_page(request: Request, principal: Viewer) -> HTMLResponse:
    """Levels per colour, compound rules, actions (filtered by hazard and level), explainer."""
    plan = services(request).plan
    params = request.query_params
    hazard = params.get("hazard", "")
    level = params.get("level", "")
    actions = [
        a
        for a in plan.actions
        if (not hazard or hazard in {h.value for h in a.hazards})
        and (not level or a.level.rank <= _rank(level))
    ]
    rows = [
        {
            "hazard": params.get(f"hazard{i}", "rainstorm" if i == 0 else ""),
            "level": params.get(f"level{i}", "blue" if i == 0 else ""),
            "areas": params.get(f"areas{i}", "citywide" if i == 0 else ""),
        }
        for i in range(ROWS)
    ]
    explained, problem = _explain(plan, rows) if "explain" in params else (None, "")
    return render(
        request,
        "plan.html",
        principal=principal,
        hazard=hazard,
        level=level,
        actions=actions,
        hazards=[h.value for h in Hazard],
        colours=[c.value for c in Level],
        response_levels=[r.value for r in RESPONSE_LEVELS],
        rows=rows,
        explained=explained,
        problem=problem,
    )


def _rank(level: str) -> int:
    try:
        return next(r.rank for r in RESPONSE_LEVELS if r.value == level)
    except StopIteration:
        return 4


def _explain(plan: Any, rows: list[dict[str, str]]) -> tuple[dict[str, Any] | None, str]:
    warnings = []
    for number, row in enumerate(rows, 1):
        if not row["hazard"] or not row["level"]:
            continue
        try:
            areas = read_areas(row["areas"] or CITYWIDE, plan)
            warnings.append(ActiveWarning(Hazard(row["hazard"]), Level(row["level"]), areas))
        except (UnknownNameError, ValueError) as exc:
            return None, f"{number}: {exc}"
    if not warnings:
        return None, ""
    try:
        assessments = assess(warnings, plan)
        response = respond(warnings, plan)
    except PlanError as exc:
        return None, str(exc)
    by_agency: dict[str, list[Any]] = {}
    for task in response.tasks:
        by_agency.setdefault(task.agency, []).append(task)
    return {
        "assessments": assessments,
        "tasks": response.tasks,
        "by_agency": by_agency,
        "counts": Counter(t.agency for t in response.tasks),
        "notices": response.notices,
    }, ""
