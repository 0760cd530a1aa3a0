"""``tidegate status``: what a duty officer needs to see, checked against the live services.

For every active response: the response level per area, the warnings in force (from the
response workflow itself, with their details from the database), the messages held for a
warning they reference, the tasks per agency by state, the escalated tasks with their stage
and the time of the last step, and the overdue tasks.

Nothing stale is shown as live: if the database or Temporal cannot be reached the command says
so and exits :attr:`~cli.exit.ExitCode.UNREACHABLE` (7) without printing any state; a live
response whose workflow does not answer (no worker running) is shown from the database,
marked as such, and the command exits :attr:`~cli.exit.ExitCode.NOT_ANSWERING` (8).

Ids are never cut: tables fold long ids onto further lines on a terminal, and print them whole
with ``--wide`` or when stdout is not a terminal. ``--json`` prints one object whose shape is
documented in the README.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from temporalio.service import RPCError, RPCStatusCode

from alerts.decisions import standing
from cli.exit import ExitCode, database_problem
from cli.output import console as make_console
from cli.output import table as make_table
from config.errors import ConfigError
from config.settings import load_settings
from plans.lifecycle import AWAITING_ACK, OPEN_STATES, TaskState
from runtime.services import Runtime, run_with
from store.queries import (
    ResponseOverview,
    escalations,
    held_warnings,
    overview,
    warning_decisions,
    warnings_by_id,
)
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id
from workflows.types import ResponseStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from temporalio.client import Client

    from store.models import EscalationRecord, TaskRecord, WarningRecord

DB_TIMEOUT = 15.0
"""Seconds the database reads may take before the database counts as unreachable."""
CONNECT_TIMEOUT = 10.0
QUERY_TIMEOUT = timedelta(seconds=5)
"""How long a response workflow may take to answer; without a worker it never does."""

RUNNING, NOT_ANSWERING, NOT_RUNNING, CLOSED = "running", "not_answering", "not_running", "closed"
"""Whether a response's workflow answered: the ``workflow`` field of each response."""


@dataclass
class InForce:
    """A message in force (the latest of its warning), as the response workflow reports it."""

    id: str
    record: WarningRecord | None
    since: datetime | None
    warning: str


@dataclass
class Held:
    """A message waiting for a warning it references."""

    record: WarningRecord
    references: tuple[str, ...]
    reason: str


@dataclass
class Board:
    """Everything ``status`` shows about one response."""

    overview: ResponseOverview
    workflow_id: str
    workflow: str = CLOSED
    """:data:`RUNNING`, :data:`NOT_ANSWERING`, :data:`NOT_RUNNING` or :data:`CLOSED`."""
    note: str = ""
    in_force: list[InForce] | None = None
    """``None`` when the workflow did not answer: then nobody knows."""
    held: list[Held] = field(default_factory=list)
    steps: dict[str, list[EscalationRecord]] = field(default_factory=dict)
    """Task id to its escalation steps, oldest first (escalated tasks only)."""


class Unreachable(Exception):
    """The database or Temporal cannot be reached; the message says which and what to do."""


def status(
    all_: bool = typer.Option(False, "--all", help="Include closed responses."),
    tasks: bool = typer.Option(False, "--tasks", help="List every task, not just the counts."),
    wide: bool = typer.Option(False, "--wide", help="Never wrap: print ids and lines whole."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Show the active responses: warnings in force, held messages, levels, tasks, escalations."""
    settings = load_settings()
    now = datetime.now(UTC)
    try:
        boards = run_with(settings, lambda rt: _gather(rt, all_))
    except Unreachable as exc:
        _fail(str(exc), as_json)
    silent = [b.workflow_id for b in boards if _silent(b)]
    if as_json:
        body = {"checked_at": now.isoformat(), "responses": [_as_dict(b, now) for b in boards]}
        sys.stdout.write(json.dumps(body, ensure_ascii=False, default=str) + "\n")
    else:
        console = make_console(wide)
        if not boards:
            console.print("No active response. Issue a warning with `tidegate alert issue ...`.")
        for board in boards:
            _print(console, board, tasks, now)
    if silent:
        typer.echo(
            f"tidegate: response workflow(s) {', '.join(silent)} did not answer; the state shown "
            "is the database's and may be behind. Is `tidegate worker` running?",
            err=True,
        )
        raise typer.Exit(ExitCode.NOT_ANSWERING)


def _fail(message: str, as_json: bool) -> NoReturn:
    typer.echo(f"tidegate: {message}", err=True)
    if as_json:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    raise typer.Exit(ExitCode.UNREACHABLE)


def _silent(board: Board) -> bool:
    """A live response whose workflow should be running but did not answer."""
    return not board.overview.response.drill and board.workflow in (NOT_ANSWERING, NOT_RUNNING)


# --- gathering -------------------------------------------------------------------------------


async def _gather(rt: Runtime, include_closed: bool) -> list[Board]:
    try:
        async with asyncio.timeout(DB_TIMEOUT), rt.sessions() as session:
            rows = await overview(session, include_closed=include_closed)
    except Exception as exc:
        raise Unreachable(f"{database_problem(exc)}; nothing is shown") from None
    client = await _connect(rt)
    boards = [
        Board(row, response_workflow_id(row.response.region, row.response.drill)) for row in rows
    ]
    await asyncio.gather(*(_ask(client, b) for b in boards if _open(b)))
    try:
        async with asyncio.timeout(DB_TIMEOUT), rt.sessions() as session:
            for board in boards:
                await _details(session, board)
    except Exception as exc:
        raise Unreachable(f"{database_problem(exc)}; nothing is shown") from None
    return boards


async def _connect(rt: Runtime) -> Client:
    settings = rt.settings
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            return await rt.temporal()
    except ConfigError as exc:
        raise Unreachable(f"{exc}; nothing is shown") from None
    except TimeoutError:
        raise Unreachable(
            f"cannot reach Temporal at {settings.temporal_address} (timed out); nothing is shown"
        ) from None


def _open(board: Board) -> bool:
    return board.overview.response.status != "closed"


async def _ask(client: Client, board: Board) -> None:
    """Ask the response workflow for the warnings in force; note how it answered."""
    handle = client.get_workflow_handle(board.workflow_id)
    try:
        answer = await handle.query(ResponseWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            board.workflow, board.note = NOT_RUNNING, "no such workflow"
        elif exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE):
            board.workflow, board.note = NOT_ANSWERING, "no answer (is the worker running?)"
        else:
            board.workflow, board.note = NOT_ANSWERING, f"{exc.status.name}: {exc.message}"[:200]
        return
    except Exception as exc:  # a failed query: the workflow is there, but cannot say
        board.workflow, board.note = NOT_ANSWERING, f"{exc.__class__.__name__}: {exc}"[:200]
        return
    if not isinstance(answer, ResponseStatus) or answer.response_id != board.overview.response.id:
        # The workflow id now runs a newer response: this row's response ended unrecorded.
        board.workflow, board.note = NOT_RUNNING, "its workflow now runs another response"
        return
    board.workflow = RUNNING
    board.in_force = [InForce(i, None, None, i) for i in answer.active_warnings]


async def _details(session: AsyncSession, board: Board) -> None:
    """Warning details, held messages and escalation steps from the database."""
    response_id = board.overview.response.id
    if board.in_force is not None:
        records = await warnings_by_id(session, [w.id for w in board.in_force])
        for item in board.in_force:
            item.record = records.get(item.id)
            if item.record is not None:
                decided = await warning_decisions(session, item.record)
                stands = standing(decided)
                item.since = stands.at if stands else item.record.recorded_at
                item.warning = next((d.warning for d in decided if d.warning), item.id)
    for record in await held_warnings(session, response_id):
        decided = await warning_decisions(session, record)
        stands = standing(decided)
        if stands is None or stands.decision == "held":
            refs = decided[0].references if decided else ()
            board.held.append(Held(record, refs, stands.reason if stands else ""))
    for step in await escalations(session, response_id):
        board.steps.setdefault(step.task_id, []).append(step)


# --- facts -----------------------------------------------------------------------------------


def _is_open(task: TaskRecord) -> bool:
    return task.state in OPEN_STATES


def _overdue(task: TaskRecord, now: datetime) -> bool:
    """Open, and past its deadline (or marked overdue by its workflow)."""
    return _is_open(task) and (task.state == TaskState.OVERDUE or task.deadline_at <= now)


def _escalated(board: Board) -> list[tuple[TaskRecord, list[EscalationRecord]]]:
    """Tasks still unanswered after at least one escalation step, in task order."""
    return [
        (task, board.steps[task.id])
        for task in board.overview.tasks
        if task.id in board.steps and task.state in AWAITING_ACK
    ]


# --- JSON ------------------------------------------------------------------------------------


def _as_dict(board: Board, now: datetime) -> dict[str, Any]:
    r = board.overview.response
    return {
        "id": r.id,
        "workflow_id": board.workflow_id,
        "workflow": board.workflow,
        "note": board.note,
        "drill": r.drill,
        "status": r.status,
        "plan": f"{r.plan_id}@{r.plan_version}",
        "levels": r.levels,
        "warnings_in_force": None
        if board.in_force is None
        else [_in_force_dict(w) for w in board.in_force],
        "held": [
            {
                "id": h.record.id,
                "kind": h.record.kind,
                "hazard": h.record.hazard,
                "level": h.record.level,
                "areas": list(h.record.areas),
                "references": list(h.references),
                "since": h.record.recorded_at.isoformat(),
                "reason": h.reason,
            }
            for h in board.held
        ],
        "tasks": [_task_dict(t, board.steps.get(t.id, []), now) for t in board.overview.tasks],
    }


def _in_force_dict(item: InForce) -> dict[str, Any]:
    record = item.record
    return {
        "id": item.id,
        "warning": item.warning,
        "hazard": record.hazard if record else None,
        "level": record.level if record else None,
        "areas": list(record.areas) if record else None,
        "since": item.since.isoformat() if item.since else None,
    }


def _task_dict(
    task: TaskRecord, steps: Sequence[EscalationRecord], now: datetime
) -> dict[str, Any]:
    last = steps[-1] if steps else None
    return {
        "id": task.id,
        "agency": task.agency,
        "action": task.action_id,
        "area": task.area,
        "asset": task.asset,
        "state": task.state,
        "deadline": task.deadline_at.isoformat(),
        "overdue": _overdue(task, now),
        "escalation": None
        if last is None
        else {
            "steps": len(steps),
            "kind": last.kind,
            "to": last.to,
            "at": last.at.isoformat(),
        },
    }


# --- text ------------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return f"{moment:%m-%d %H:%M}" if moment else "?"


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _print(console: Console, board: Board, list_tasks: bool, now: datetime) -> None:
    r = board.overview.response
    kind = "DRILL " if r.drill else ""
    answered = {
        RUNNING: "workflow answering",
        NOT_ANSWERING: f"[red]workflow NOT answering: {board.note}[/red]",
        NOT_RUNNING: f"[red]workflow NOT running: {board.note}[/red]",
        CLOSED: "closed",
    }[board.workflow]
    console.print(
        f"[bold]{kind}response {r.id}[/bold] ({r.status}; plan {r.plan_id} {r.plan_version}; "
        f"{answered})",
        soft_wrap=True,
    )
    console.print(f"  response level: [bold]{_levels_line(r.levels)}[/bold]")
    _print_in_force(console, board)
    _print_held(console, board)
    _print_tasks(console, board, list_tasks)
    _print_escalated(console, board)
    _print_overdue(console, board, now)


def _print_in_force(console: Console, board: Board) -> None:
    if board.in_force is None:
        if board.workflow != CLOSED:
            console.print("  warnings in force: [red]unknown[/red] (the workflow did not answer)")
        return
    if not board.in_force:
        console.print("  warnings in force: none")
        return
    table = make_table(
        "id", "hazard", "colour", "areas", "since (UTC)", "warning", title="warnings in force"
    )
    for item in board.in_force:
        rec = item.record
        table.add_row(
            item.id,
            rec.hazard if rec else "?",
            rec.level if rec else "?",
            ", ".join(rec.areas) if rec else "?",
            _when(item.since),
            item.warning,
        )
    console.print(table)


def _print_held(console: Console, board: Board) -> None:
    if not board.held:
        console.print("  held messages: none")
        return
    table = make_table(
        "id",
        "kind",
        "references",
        "since (UTC)",
        title="held messages (waiting for what they reference)",
    )
    for held in board.held:
        table.add_row(
            held.record.id,
            held.record.kind,
            ", ".join(held.references) or "?",
            _when(held.record.recorded_at),
        )
    console.print(table)


def _print_tasks(console: Console, board: Board, list_tasks: bool) -> None:
    tasks = board.overview.tasks
    if list_tasks:
        table = make_table("task", "state", "deadline (UTC)", title="tasks")
        for t in tasks:
            table.add_row(t.id, t.state, _when(t.deadline_at))
        console.print(table)
        return
    states = [str(s) for s in TaskState]
    table = make_table("agency", "tasks", *states, title="tasks by agency (--tasks lists them)")
    for agency in sorted({t.agency for t in tasks}):
        mine = [t for t in tasks if t.agency == agency]
        counts = [str(sum(t.state == s for t in mine) or "") for s in states]
        table.add_row(agency, str(len(mine)), *counts)
    console.print(table)


def _print_escalated(console: Console, board: Board) -> None:
    escalated = _escalated(board)
    if not escalated:
        console.print("  escalated tasks: none")
        return
    table = make_table(
        "task",
        "agency",
        "state",
        "stage",
        "last step (UTC)",
        title="escalated tasks (not acknowledged)",
    )
    for task, steps in escalated:
        last = steps[-1]
        stage = f"{len(steps)}: {last.kind} -> {last.to}"
        table.add_row(task.id, task.agency, task.state, stage, _when(last.at))
    console.print(table)


def _print_overdue(console: Console, board: Board, now: datetime) -> None:
    overdue = [t for t in board.overview.tasks if _overdue(t, now)]
    if not overdue:
        console.print("  overdue tasks: none")
        return
    table = make_table(
        "task", "agency", "state", "deadline (UTC)", "overdue by", title="overdue tasks"
    )
    for task in overdue:
        late = _ago(now - task.deadline_at)
        table.add_row(task.id, task.agency, task.state, _when(task.deadline_at), late)
    console.print(table)


def _levels_line(levels: dict[str, str]) -> str:
    """``citywide II; districts: II x14, I (fengxian, jinshan)`` instead of 17 pairs."""
    if not levels:
        return "none (stood down)"
    parts = [f"citywide {levels['citywide']}"] if "citywide" in levels else []
    by_level: dict[str, list[str]] = {}
    for area, level in sorted(levels.items()):
        if area != "citywide":
            by_level.setdefault(level, []).append(area)
    districts = [
        f"{level} x{len(areas)}" if len(areas) > 3 else f"{level} ({', '.join(areas)})"
        for level, areas in sorted(by_level.items(), key=lambda kv: -len(kv[1]))
    ]
    if districts:
        parts.append("districts: " + ", ".join(districts))
    return "; ".join(parts)
