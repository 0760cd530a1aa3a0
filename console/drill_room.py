"""Drills from the console: the bundled storms, start one, watch it, read its report, compare plans.

A drill started here runs inside ``tidegate serve`` exactly as ``tidegate drill run`` runs it
(:func:`drills.runner.run_fast` or :func:`~drills.runner.run_speed`, then
:func:`~drills.runner.result_of`), one at a time, and writes its after-action report where
scheduled drills write theirs (``<data dir>/drills/<time>-<storm>-<run id>/``). Past drills
are the reports found there, whoever ran them (the console, the scheduler, or the CLI with
``--report`` into that folder). Progress reaches open pages through the change feed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from console.auth import Permission, Principal, audit, require
from console.web import render, services
from drills.compare import compare_storm
from drills.report import write_report
from drills.runner import DrillOptions, Progress, result_of, run_fast, run_speed
from drills.timeline import TimelineError, bundled_storms, load_timeline
from plans.errors import PlanError
from plans.loader import load_plan

if TYPE_CHECKING:
    from config.settings import Settings
    from console.live import ChangeFeed

log = logging.getLogger("tidegate.console")
router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require(Permission.VIEW_BOARD))]
Runner = Annotated[Principal, Depends(require(Permission.RUN_DRILLS))]
BUMP_SECONDS = 0.5
"""Progress reaches pages at most this often (a fast drill ticks many times a second)."""


@dataclass
class DrillState:
    """One drill started from the console."""

    id: str
    storm: str
    name: str
    mode: str
    started_at: datetime
    progress: Progress = field(default_factory=Progress)
    status: str = "running"
    """``running``, ``done`` or ``failed``."""
    report: str | None = None
    """The report's folder name under ``<data dir>/drills`` once written."""
    error: str = ""


class DrillRoom:
    """The drills this server runs, and the reports in the data directory."""

    def __init__(self, settings: Settings, feed: ChangeFeed) -> None:
        self.settings = settings
        self.feed = feed
        self.runs: dict[str, DrillState] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_bump = 0.0

    @property
    def reports_dir(self) -> Path:
        """Where drill reports are kept."""
        return self.settings.data_dir / "drills"

    @property
    def running(self) -> DrillState | None:
        """The drill running now, if any."""
        return next((r for r in self.runs.values() if r.status == "running"), None)

    def start(self, storm: str, fast: bool, speed: float) -> DrillState:
        """Start a drill in the background.

        Raises:
            ValueError: Another drill is running, or the storm is unknown.
        """
        if self.running is not None:
            raise ValueError(f"drill {self.running.id} ({self.running.storm}) is still running")
        try:
            timeline = load_timeline(storm)
        except TimelineError as exc:
            raise ValueError(str(exc)) from None
        state = DrillState(
            id=uuid.uuid4().hex[:8],
            storm=timeline.slug,
            name=f"{timeline.name} {timeline.name_zh}".strip(),
            mode="fast" if fast else f"speed {speed:g}",
            started_at=datetime.now(UTC),
        )
        self.runs[state.id] = state
        options = DrillOptions(fast=fast, speed=speed)
        task = asyncio.create_task(self._run(state, timeline, options), name=f"drill-{state.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return state

    async def _run(self, state: DrillState, timeline: Any, options: DrillOptions) -> None:
        def observe(progress: Progress) -> None:
            state.progress = replace(progress, levels=dict(progress.levels))
            now = time.monotonic()
            if now - self._last_bump >= BUMP_SECONDS:
                self._last_bump = now
                asyncio.get_running_loop().create_task(self.feed.bump())

        try:
            runner = run_fast if options.fast else run_speed
            drill = await runner(timeline, self.settings, options, observe=observe)
            result = await result_of(drill, self.settings)
            stamp = state.started_at.strftime("%Y%m%dT%H%M%SZ")
            name = f"{stamp}-{timeline.slug}-{result.run_id}"
            await asyncio.to_thread(write_report, result, self.reports_dir / name)
            state.report = name
            state.status = "done"
        except Exception as exc:
            log.exception("drill %s of %s failed", state.id, state.storm)
            state.status = "failed"
            state.error = f"{exc.__class__.__name__}: {exc}"[:500]
        await self.feed.bump()

    def past(self) -> list[dict[str, Any]]:
        """The reports in the data directory, newest first."""
        if not self.reports_dir.is_dir():
            return []
        found = []
        for folder in sorted(self.reports_dir.iterdir(), reverse=True):
            data = folder / "drill.json"
            if not (folder / "report.html").is_file() or not data.is_file():
                continue
            try:
                facts = json.loads(data.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found.append({"folder": folder.name, **facts})
        return found

    def report_path(self, folder: str, name: str) -> Path:
        """A file of a report, only among the reports' own files."""
        if name not in ("report.html", "report.md", "timeline.svg", "drill.json"):
            raise KeyError(name)
        known = {p.name for p in self.reports_dir.iterdir()} if self.reports_dir.is_dir() else set()
        if folder not in known:
            raise KeyError(folder)
        return self.reports_dir / folder / name


def _room(request: Request) -> DrillRoom:
    return services(request).drills


@router.get("/drills")
async def drills_page(request: Request, principal: Viewer) -> HTMLResponse:
    """Storms, running drills, past reports, and the plan comparison form."""
    return _page(request, principal)


@router.get("/drills/live")
async def drills_live(request: Request, principal: Viewer) -> HTMLResponse:
    """The running and past drills, fetched again at every change."""
    room = _room(request)
    return render(
        request,
        "drills_live.html",
        principal=principal,
        runs=sorted(room.runs.values(), key=lambda r: r.started_at, reverse=True),
        past=room.past(),
    )


def _page(request: Request, principal: Principal, status: int = 200, **extra: Any) -> HTMLResponse:
    room = _room(request)
    storms = []
    for slug in bundled_storms():
        timeline = load_timeline(slug)
        storms.append(
            {
                "slug": slug,
                "name": timeline.name,
                "name_zh": timeline.name_zh,
                "year": timeline.year,
                "from": timeline.start,
                "to": timeline.end,
                "warnings": sum(1 for e in timeline.events if e.kind.value == "warning"),
            }
        )
    context: dict[str, Any] = {
        "storms": storms,
        "runs": sorted(room.runs.values(), key=lambda r: r.started_at, reverse=True),
        "past": room.past(),
        "error": "",
        "comparison": None,
        "compare_form": {"plan_a": str(services(request).settings.plan_path), "plan_b": ""},
    }
    context.update(extra)
    return render(request, "drills.html", status, principal=principal, **context)


@router.post("/drills/start")
async def start_drill(
    request: Request,
    principal: Runner,
    storm: str = Form(...),
    mode: str = Form("fast"),
    speed: float = Form(60.0),
) -> Response:
    """Start a drill; back to the drills page, which shows its progress."""
    if mode != "fast" and not 1.0 <= speed <= 10_000.0:
        return _page(request, principal, 422, error=f"speed: {speed:g} is not between 1 and 10000")
    try:
        state = _room(request).start(storm, mode == "fast", speed)
    except ValueError as exc:
        await audit(request, "drill.started", storm, "failed", reason=str(exc)[:300])
        return _page(request, principal, 409, error=str(exc))
    await audit(request, "drill.started", storm, "ok", mode=state.mode, drill=state.id)
    return RedirectResponse(f"/drills?started={state.id}", status_code=303)


@router.get("/drills/reports/{folder}/{name}")
async def report_file(request: Request, folder: str, name: str, principal: Viewer) -> FileResponse:
    """A past drill's report (``report.html``, ``report.md``, ``timeline.svg``, ``drill.json``)."""
    try:
        path = _room(request).report_path(folder, name)
    except KeyError:
        raise HTTPException(404, f"no report {folder}/{name}") from None
    return FileResponse(path)


@router.post("/drills/compare")
async def compare(
    request: Request,
    principal: Runner,
    storm: str = Form(...),
    plan_a: str = Form(...),
    plan_b: str = Form(...),
) -> HTMLResponse:
    """What two plans would have done differently for a storm (no services needed)."""
    form = {"storm": storm, "plan_a": plan_a, "plan_b": plan_b}
    try:
        timeline = load_timeline(storm)
        a, b = (
            await asyncio.to_thread(load_plan, Path(plan_a)),
            await asyncio.to_thread(load_plan, Path(plan_b)),
        )
    except (TimelineError, PlanError, OSError) as exc:
        return _page(request, principal, 422, error=str(exc), compare_form=form)
    result = await asyncio.to_thread(compare_storm, timeline, a, b)
    return _page(request, principal, comparison=result, compare_form=form)
