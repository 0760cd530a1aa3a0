"""``tidegate plan``: validate a plan, explain what it dispatches for given warnings, compare two.

Every command reads plans with ``plans.loader`` and decides with ``plans.rules``, exactly as the
workflows do, so what ``explain`` shows is what a response would dispatch. Errors are one
message and exit status 1, never a traceback; ``--json`` prints exactly one JSON object.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from access.audit import plan_note, write_now
from access.matrix import Permission
from cli.exit import ExitCode, database_problem, unreachable_database
from cli.identity import NOT_ALLOWED, Token, acting, cli_source
from config.settings import load_settings
from plans.catalogue import read_areas
from plans.compare import PlanComparison, compare_plans
from plans.errors import PlanError, Severity, UnknownNameError
from plans.loader import DEFAULT_PLAN_PATH, load_plan, read_plan
from plans.model import CITYWIDE, ActiveWarning, Plan, Task
from plans.render import render_notice, render_task
from plans.rules import Assessment, assess, respond
from plans.terms import parse_hazard, parse_level
from runtime.services import Runtime, run_with
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id

app = typer.Typer(
    help="Check, explain and compare flood and typhoon response plans.",
    no_args_is_help=True,
)

_err = Console(stderr=True, highlight=False)


def _console() -> Console:
    """Standard output; wide when it is not a terminal, so piped tables do not wrap."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


PLAN_OPTION = typer.Option(
    "--plan", help="Plan directory (default: the bundled Shanghai plan).", show_default=False
)
JSON_OPTION = typer.Option("--json", help="Print one JSON object instead of tables.")


def _fail(message: str) -> NoReturn:
    _err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


def _emit(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def _load(path: Path | None) -> Plan:
    try:
        return load_plan(path)
    except PlanError as exc:
        for problem in exc.problems:
            if problem.severity == Severity.ERROR:
                _err.print(escape(str(problem)))
        _fail(f"plan {path or DEFAULT_PLAN_PATH} is invalid (run 'tidegate plan check')")


def _plan_json(plan: Plan) -> dict[str, str]:
    return {"plan_id": plan.plan_id, "version": plan.version, "content_hash": plan.content_hash}


# --- check ------------------------------------------------------------------------------------


@app.command()
def check(
    path: Annotated[
        Path | None,
        typer.Argument(help="Plan directory (default: the bundled plan).", show_default=False),
    ] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Validate a plan: schema, references, templates, coverage and escalation."""
    plan, problems = read_plan(path)
    errors = sum(1 for p in problems if p.severity == Severity.ERROR)
    warnings = len(problems) - errors
    if as_json:
        _emit(
            {
                "path": str(path or DEFAULT_PLAN_PATH),
                "ok": errors == 0,
                "plan": _plan_json(plan) if plan else None,
                "errors": errors,
                "warnings": warnings,
                "problems": [asdict(p) for p in problems],
            }
        )
    else:
        out = _console()
        for problem in problems:
            colour = "red" if problem.severity == Severity.ERROR else "yellow"
            out.print(f"[{colour}]{escape(str(problem))}[/{colour}]")
        if plan is not None:
            out.print(
                f"[green]ok[/green] plan {plan.plan_id} version {plan.version} "
                f"({plan.content_hash[:12]}…): {len(plan.actions)} actions, "
                f"{len(plan.districts)} districts, {len(plan.assets)} assets, {warnings} warning(s)"
            )
        else:
            out.print(f"[red]{errors} error(s)[/red], {warnings} warning(s)")
    raise typer.Exit(1 if errors else 0)


# --- explain ----------------------------------------------------------------------------------


def _areas(names: list[str], plan: Plan) -> tuple[str, ...]:
    """Area ids named, read as intake reads them (lists, codes, ``上海市浦东新区``), in order."""
    found: list[str] = []
    for name in names:
        try:
            ids = read_areas(name, plan)
        except UnknownNameError as exc:
            _fail(f"{exc}: use a district, 'citywide' or a group name")
        found.extend(i for i in ids if i not in found)
    return tuple(found)


def _parse_warning(text: str, default_areas: tuple[str, ...], plan: Plan) -> ActiveWarning:
    """Parse ``HAZARD=COLOUR[@AREA[,AREA...]]``, e.g. ``typhoon=orange@pudong,jinshan``."""
    hazard_name, sep, rest = text.partition("=")
    colour, _, where = rest.partition("@")
    hazard = parse_hazard(hazard_name, plan)
    level = parse_level(colour, plan)
    if not sep or hazard is None or level is None:
        _fail(
            f"bad --warning {text!r}: expected HAZARD=COLOUR[@AREA,...], with HAZARD one of "
            "wind, typhoon, gale, rainstorm, tide, flood and COLOUR blue, yellow, orange or red "
            "(or another term of the plan's catalogue)"
        )
    areas = _areas([where], plan) if where.strip() else default_areas
    return ActiveWarning(hazard, level, areas)


def _task_json(plan: Plan, task: Task) -> dict[str, Any]:
    action = plan.action(task.action_id)
    return {
        "id": task.id,
        "agency": task.agency,
        "action": task.action_id,
        "title": {"zh": action.zh, "en": action.en},
        "area": task.area,
        "asset": task.asset,
        "hazard": str(task.hazard),
        "response_level": str(task.response_level),
        "deadline_minutes": task.deadline_minutes,
        "ack_timeout_minutes": task.ack_timeout_minutes,
        "escalation": [
            {"after_minutes": s.after_minutes, "kind": str(s.kind), "to": str(s.to)}
            for s in task.escalation
        ],
        "on_stand_down": str(task.on_stand_down),
        "instructions": render_task(plan, task),
    }


def _assessment_json(a: Assessment) -> dict[str, Any]:
    return {
        "level": str(a.level),
        "base": str(a.base),
        "hazards": {str(h.hazard): str(h.level) for h in a.hazards},
        "compound": list(a.compound),
        "city_floor": a.city_floor,
    }


def _print_explanation(
    plan: Plan,
    warnings: list[ActiveWarning],
    assessments: dict[str, Assessment],
    tasks: list[Task],
    notices: list[dict[str, Any]],
) -> None:
    out = _console()
    out.print(
        f"[bold]Plan[/bold] {plan.plan_id} version {plan.version} ({plan.content_hash[:12]}…)"
    )
    for w in warnings:
        out.print(f"Warning: {w.hazard} {w.level} in {', '.join(w.areas)}")
    if not assessments:
        out.print("No area responds: nothing is dispatched.")
        return
    levels = Table(box=box.SIMPLE_HEAD, title="Response level per area", title_justify="left")
    for column in ("Area", "Level", "Hazards in force", "Raised by"):
        levels.add_column(column)
    for area, a in assessments.items():
        names = plan.area(area)
        raised = [*a.compound, *(["city level"] if a.city_floor else [])]
        hazards = ", ".join(f"{h.hazard} {h.level}" for h in a.hazards)
        levels.add_row(f"{names.en} {names.zh}", str(a.level), hazards, ", ".join(raised))
    out.print(levels)
    out.print(
        "Tasks. From: lowest response level that makes the task due. Due and ack: minutes "
        "after dispatch. Chase: minutes after dispatch of the reminder (to the agency), the "
        "supervision notice (district HQ; city HQ for citywide tasks) and the warning notice "
        "(city HQ) while the task is unacknowledged. Downgrade: stand down, or keep until done."
    )
    for agency in plan.agencies:
        mine = [t for t in tasks if t.agency == agency.id]
        if not mine:
            continue
        table = Table(
            box=box.SIMPLE_HEAD,
            title=f"{agency.en} / {agency.zh}: {len(mine)} task(s) on tidegate.tasks.{agency.id}",
            title_justify="left",
        )
        table.add_column("Task", no_wrap=True)
        for column in ("Action", "Hazard", "From", "Due", "Ack", "Chase", "Downgrade"):
            table.add_column(column, no_wrap=column != "Action")
        for t in mine:
            table.add_row(
                t.id,
                plan.action(t.action_id).en,
                str(t.hazard),
                str(t.response_level),
                str(t.deadline_minutes),
                str(t.ack_timeout_minutes),
                "/".join(str(step.after_minutes) for step in t.escalation),
                "keep" if t.on_stand_down == "keep" else "stand down",
            )
        out.print(table)
    for notice in notices:
        audience, minutes = notice["audience"], notice["deadline_minutes"]
        out.print(f"[bold]Notice[/bold] {notice['id']} ({audience}, within {minutes} min)")
        for text in notice["text"].values():
            out.print(f"  {escape(text)}")
    out.print(f"[bold]{len(tasks)} task(s)[/bold], {len(notices)} notice(s)")


@app.command()
def explain(
    warning: Annotated[
        list[str],
        typer.Option(
            "--warning",
            "-w",
            help="HAZARD=COLOUR[@AREA,...], e.g. typhoon=orange or rainstorm=red@pudong. "
            "Hazards: wind, typhoon, gale, rainstorm, tide, flood. Repeat for several.",
        ),
    ],
    area: Annotated[
        list[str] | None,
        typer.Option(
            "--area",
            help="Area of the warnings given without @AREA: a district (Chinese or English), "
            "citywide, or a group such as coastal. Repeatable. Default: citywide.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Show only these areas (filters the output)."),
    ] = None,
    plan_path: Annotated[Path | None, PLAN_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show the response level per area and every task the warnings would dispatch."""
    plan = _load(plan_path)
    default_areas = _areas(area, plan) if area else (CITYWIDE,)
    warnings = [_parse_warning(text, default_areas, plan) for text in warning]
    response = respond(warnings, plan)
    assessments = assess(warnings, plan)
    shown = set(_areas(only, plan)) if only else None
    if shown is not None:
        assessments = {k: v for k, v in assessments.items() if k in shown}
    tasks = [t for t in response.tasks if shown is None or t.area in shown]
    notices = [
        asdict(n) | {"text": render_notice(plan, n)}
        for n in response.notices
        if shown is None or n.area in shown
    ]
    if as_json:
        _emit(
            {
                "plan": _plan_json(plan),
                "warnings": [
                    {"hazard": str(w.hazard), "level": str(w.level), "areas": list(w.areas)}
                    for w in warnings
                ],
                "levels": {k: str(v) for k, v in response.levels.items() if k in assessments},
                "areas": {k: _assessment_json(v) for k, v in assessments.items()},
                "tasks": [_task_json(plan, t) for t in tasks],
                "notices": notices,
            }
        )
        return
    _print_explanation(plan, warnings, assessments, tasks, notices)


# --- diff -------------------------------------------------------------------------------------


def _print_comparison(result: PlanComparison) -> None:
    out = _console()
    for label, ref in (("Old", result.old), ("New", result.new)):
        out.print(f"[bold]{label}[/bold] {ref.plan_id} {ref.version} ({ref.content_hash[:12]}…)")
    if result.is_empty:
        out.print("The plans have the same content.")
        return
    if result.needs_new_version:
        out.print("[yellow]The content changed but the version did not: bump 'version'.[/yellow]")
    for change in result.levels:
        level = (
            str(change.after)
            if change.before == change.after
            else f"{change.before} → {change.after}"
        )
        out.print(f"[bold]{change.hazard} {change.level}[/bold] (response {level})")
        for action_id in change.added:
            out.print(f"  [green]+ {action_id}[/green]")
        for action_id in change.removed:
            out.print(f"  [red]- {action_id}[/red]")
        for action_change in change.changed:
            out.print(
                f"  [yellow]~ {action_change.action_id}[/yellow]: {', '.join(action_change.fields)}"
            )
    for entry in result.entries:
        mark = {"added": "[green]+", "removed": "[red]-", "changed": "[yellow]~"}[entry.change]
        fields = f": {', '.join(entry.fields)}" if entry.fields else ""
        out.print(f"{mark} {entry.kind} {entry.id}[/]{fields}")


@app.command("diff")
def diff_plans(
    old: Annotated[Path, typer.Argument(help="Plan directory in use.")],
    new: Annotated[Path, typer.Argument(help="Proposed plan directory.")],
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show, for each hazard and colour, what changing the plan from OLD to NEW would add,
    remove or change."""
    result = compare_plans(_load(old), _load(new))
    if as_json:
        _emit(asdict(result) | {"is_empty": result.is_empty})
        return
    _print_comparison(result)


# --- apply ------------------------------------------------------------------------------------


@app.command()
def apply(
    path: Annotated[
        Path | None, typer.Argument(help="Plan directory (default: configured).")
    ] = None,
    drill: Annotated[bool, typer.Option(help="Apply to the region's drill response.")] = False,
    token: Token = "",
) -> None:
    """Switch the running response to a new plan version (an explicit, validated update).

    A response pins the plan it started with; edits to the YAML change nothing until applied
    here. The workflow refuses another plan id, or the version it already runs. Needs the
    token of an account that may apply plans (``plan.apply``: duty officer, HQ commander);
    applied or refused, it is in the audit trail. Exit 9: the token does not allow it.
    """
    settings = load_settings()
    plan = _load(path or settings.plan_path)
    workflow_id = response_workflow_id(settings.region, drill)

    async def go(rt: Runtime) -> str:
        who = await acting(rt, token, "plan apply", Permission.PLAN_APPLY)
        client = await rt.temporal()
        handle = client.get_workflow_handle(workflow_id)

        async def audit(outcome: str, version: str, reason: str | None = None) -> None:
            note = plan_note(
                who, source=cli_source(), workflow_id=workflow_id, plan_id=plan.plan_id,
                version=version, outcome=outcome, reason=reason,
            )  # fmt: skip
            await write_now(rt.sessions, note)

        try:
            version = await handle.execute_update(ResponseWorkflow.apply_plan, plan)
        except (WorkflowUpdateFailedError, RPCError) as exc:
            cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
            await audit("failed", plan.version, str(cause))
            raise
        await audit("ok", version)
        return version

    try:
        version = run_with(settings, go)
    except NOT_ALLOWED as exc:
        _err.print(f"[red]forbidden:[/red] {escape(exc.reason)}; the plan was not applied")
        raise typer.Exit(ExitCode.FORBIDDEN) from None
    except (WorkflowUpdateFailedError, RPCError) as exc:
        cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
        _fail(f"plan not applied: {cause}")
    except Exception as exc:  # the accounts live in the database: no traceback
        if not unreachable_database(exc):
            raise
        _err.print(f"{escape(database_problem(exc))}; the plan was not applied")
        raise typer.Exit(ExitCode.UNREACHABLE) from None
    typer.echo(f"{workflow_id} now runs plan {plan.plan_id} {version}")
