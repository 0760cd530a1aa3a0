"""``tidegate drill``: replay historical storms as drills, compare plans, schedule drills.

``run`` replays a storm through the real intake, plans and workflows, isolated from live
traffic (``docs/drills.md``); ``compare`` shows what two plan versions would have done for the
same storm (no services); ``schedule`` keeps recurring drills in the database for the worker;
``storms`` lists the bundled timelines.

``run`` and ``schedule`` (adding or removing) need the API token of an account that may run
drills (``drill.run``: trainer, HQ commander; ``--token`` or ``TIDEGATE_TOKEN``, checked as
:func:`cli.identity.acting` does) and exit 9 when it does not allow them; drills started and
schedules changed are in the audit trail. A scheduled drill runs as the account that
scheduled it (:mod:`drills.schedule`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from access.audit import auth_failure_note, authorize_audited, drill_note, write_now
from access.matrix import Permission, Principal
from access.terminal import Unauthenticated, scheduler_principal
from cli.exit import ExitCode, database_problem, unreachable_database
from cli.identity import NOT_ALLOWED, TOKEN, acting, cli_source
from cli.output import console
from cli.output import table as make_table
from config.settings import Settings, load_settings
from drills import schedule as scheduling
from drills.agencies import ProfilesError, load_profiles
from drills.compare import StormComparison, compare_storm
from drills.report import highest_level, write_report
from drills.results import DrillResult
from drills.runner import DrillOptions, Progress, result_of, run_fast, run_speed
from drills.skipping import StalledError
from drills.timeline import Timeline, TimelineError, bundled_storms, load_timeline
from plans.errors import PlanError
from plans.loader import load_plan
from runtime.services import Runtime as Services
from runtime.services import run_with

app = typer.Typer(
    help="Replay historical storms as drills; compare plans; schedule drills.",
    no_args_is_help=True,
)

T = TypeVar("T")
STORM = typer.Argument(..., help="A bundled storm (e.g. in-fa, 2024-bebinca) or a timeline file.")


def _timeline(storm: str) -> Timeline:
    try:
        return load_timeline(storm)
    except TimelineError as exc:
        typer.echo(f"tidegate: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def run(
    storm: str = STORM,
    speed: float | None = typer.Option(
        None, "--speed", min=1.0, help="Replay N times faster than real time on the live services."
    ),
    fast: bool = typer.Option(
        False, "--fast", help="As fast as possible on a time-skipping server (the default)."
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Write the after-action report here."
    ),
    seed: int = typer.Option(0, "--seed", help="Same seed, same agency behaviour."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    plan: Path | None = typer.Option(None, "--plan", help="Plan to run (default: configured)."),
    agencies: Path | None = typer.Option(None, "--agencies", help="Agency profiles YAML."),
    cooldown_hours: float = typer.Option(
        6.0, "--cooldown-hours", min=0.0, help="Storm hours after the last entry before lifting."
    ),
    tail_hours: float = typer.Option(
        6.0, "--tail-hours", min=0.0, help="Storm hours after lifting while agencies may answer."
    ),
    with_hq_decisions: bool = typer.Option(
        False,
        "--with-hq-decisions",
        help="Also replay the HQ's recorded decisions (the timeline's response entries); the "
        "report shows the response with them beside the automatic rules.",
    ),
    token: str = TOKEN,
    scheduled: str | None = typer.Option(
        None, "--scheduled", hidden=True, help="The schedule this run is for (the worker's)."
    ),
) -> None:
    """Replay STORM as a drill: exercise warnings, simulated agencies, an after-action report."""
    if speed is not None and fast:
        typer.echo("tidegate: choose --speed N or --fast, not both", err=True)
        raise typer.Exit(2)
    timeline = _timeline(storm)
    try:
        profiles = load_profiles(agencies) if agencies is not None else None
    except ProfilesError as exc:
        typer.echo(f"tidegate: {exc}", err=True)
        raise typer.Exit(1) from None
    options = DrillOptions(
        fast=speed is None,
        speed=speed or 1.0,
        seed=seed,
        plan_path=plan,
        profiles=profiles,
        cooldown_minutes=round(cooldown_hours * 60),
        tail_minutes=round(tail_hours * 60),
        with_hq_decisions=with_hq_decisions,
    )
    settings = load_settings()
    mode = "fast" if speed is None else f"speed {speed:g}"
    started = {"mode": mode, "seed": seed, "plan": str(plan or settings.plan_path)}
    if with_hq_decisions:
        started["with_hq_decisions"] = True
    _as_allowed(settings, token, "drill run", scheduled, storm, timeline.slug, started)
    try:
        result = _with_progress(timeline, settings, options)
    except StalledError as exc:
        typer.echo(f"tidegate: drill failed: {exc}", err=True)
        raise typer.Exit(1) from None
    data = result.to_json()
    if report is not None:
        files = write_report(result, report)
        data["report"] = {
            "html": str(files.html),
            "markdown": str(files.markdown),
            "chart": str(files.chart),
            "json": str(files.data),
        }
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    _print_summary(result, data.get("report"))


def _as_allowed(
    settings: Settings,
    token: str,
    command: str,
    scheduled: str | None,
    storm: str,
    slug: str,
    detail: dict[str, Any],
) -> None:
    """Check who starts the drill (the token's account, or the scheduling account for
    ``--scheduled``) may run drills, and record the start; exit 9 if not, 7 if it cannot tell.
    """

    async def go(rt: Services) -> None:
        source = cli_source()
        if scheduled is None:
            who = await acting(rt, token, command, Permission.DRILL_RUN)
        else:
            who = await _scheduler(rt, settings, scheduled, storm, source)
            source = f"scheduler {scheduled} {source}"
        note = drill_note(
            who, "drill.started", source=source, target=slug, scheduled=scheduled, **detail
        )
        await write_now(rt.sessions, note)

    _checked(settings, go)


async def _scheduler(
    rt: Services, settings: Settings, job_id: str, storm: str, source: str
) -> Principal:
    """The account a scheduled run acts as: the one that scheduled ``job_id`` for ``storm``."""
    target = f"tidegate drill run --scheduled {job_id}"
    job = await asyncio.to_thread(scheduling.find_drill, settings, job_id)
    if job is None or job.storm != storm:
        reason = f"no scheduled drill {job_id!r} of {storm!r}"
        await write_now(rt.sessions, auth_failure_note(source=source, target=target, reason=reason))
        raise Unauthenticated(reason)
    who = await scheduler_principal(rt.sessions, job.scheduled_by, source=source, target=target)
    await authorize_audited(rt.sessions, who, Permission.DRILL_RUN, target=target, source=source)
    return who


def _checked(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """``run_with(settings, work)``: not allowed exits 9, a database that cannot be reached 7."""
    try:
        return run_with(settings, work)
    except NOT_ALLOWED as exc:
        typer.echo(f"tidegate: forbidden: {exc.reason}", err=True)
        raise typer.Exit(ExitCode.FORBIDDEN) from None
    except Exception as exc:  # the driver's own errors: no traceback, and no URL
        if unreachable_database(exc):
            typer.echo(f"tidegate: {database_problem(exc)}", err=True)
            raise typer.Exit(ExitCode.UNREACHABLE) from None
        raise


def _core_logs_to_stderr() -> None:
    """Temporal's core (Rust) logs straight to stdout; ``--json`` must print nothing else.

    Forward them to Python logging (stderr), errors only: the time-skipping test server draws
    capability warnings that say nothing about the drill.
    """
    logger = logging.getLogger("temporalio.core")
    telemetry = TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logger),
        )
    )
    Runtime.set_default(Runtime(telemetry=telemetry), error_if_already_set=False)


def _with_progress(timeline: Timeline, settings: Settings, options: DrillOptions) -> DrillResult:
    """Run the drill with a live progress display on stderr."""
    _core_logs_to_stderr()
    console = Console(stderr=True)
    mode = "fast" if options.fast else f"speed {options.speed:g}"
    with Live(_progress_view(timeline, Progress(), mode), console=console, transient=True) as live:

        def observe(progress: Progress) -> None:
            live.update(_progress_view(timeline, progress, mode))

        async def go() -> DrillResult:
            runner = run_fast if options.fast else run_speed
            drill = await runner(timeline, settings, options, observe=observe)
            return await result_of(drill, settings)

        return asyncio.run(go())


def _progress_view(timeline: Timeline, progress: Progress, mode: str) -> Table:
    table = Table.grid(padding=(0, 2))
    clock = progress.storm_now.strftime("%Y-%m-%d %H:%M") if progress.storm_now else "--"
    levels = progress.levels
    city = levels.get("citywide", "none")
    top = max(levels.values(), key=lambda v: ("IV", "III", "II", "I").index(v), default="none")
    table.add_row(
        f"[bold]{timeline.name}[/] ({mode})",
        f"storm clock {clock}",
        f"warnings {progress.warnings_sent}/{progress.warnings_total}"
        + (f", HQ {progress.hq_sent}/{progress.hq_total}" if progress.hq_total else ""),
        f"level citywide {city}, highest {top}",
    )
    table.add_row(
        f"phase {progress.phase}",
        f"tasks {progress.tasks}",
        f"acknowledged {progress.acknowledged}",
        f"completed {progress.completed}, silent {progress.silent}",
    )
    return table


def _print_summary(result: DrillResult, report: Any) -> None:
    console = Console()
    table = Table(title=f"Drill {result.run_id}: {result.name}", show_header=False)
    table.add_row("wall time", f"{result.wall_seconds:.1f} s ({result.mode})")
    table.add_row(
        "warnings replayed", f"{result.warnings_replayed} (+{result.closing_cancellations} closing)"
    )
    table.add_row("highest level", highest_level(result))
    table.add_row("tasks dispatched", str(result.tasks_dispatched))
    table.add_row("escalations", str(result.escalations))
    table.add_row("deadlines missed", str(result.deadlines_missed))
    table.add_row(
        "beside the HQ",
        ", ".join(f"{n} {v}" for v, n in result.comparison_counts.items()) or "no HQ levels",
    )
    if result.with_hq is not None:
        counts = result.with_hq.comparison_counts
        table.add_row(
            "with the HQ's decisions",
            f"{len(result.with_hq.decisions)} replayed; "
            + ", ".join(f"{n} {v}" for v, n in counts.items()),
        )
    console.print(table)
    for anomaly in result.anomalies:
        console.print(f"[yellow]anomaly:[/] {anomaly}")
    if report:
        console.print(f"report: {report['html']} (and report.md, timeline.svg, drill.json)")


@app.command()
def compare(
    storm: str = STORM,
    plans: list[Path] = typer.Option(..., "--plan", help="Two plan directories, A then B."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    all_steps: bool = typer.Option(False, "--all", help="Show every step, not only differences."),
) -> None:
    """What plan A and plan B would have done differently for STORM (no services needed)."""
    if len(plans) != 2:
        typer.echo("tidegate: give exactly two plans: --plan A --plan B", err=True)
        raise typer.Exit(2)
    timeline = _timeline(storm)
    try:
        plan_a, plan_b = load_plan(plans[0]), load_plan(plans[1])
    except PlanError as exc:
        typer.echo(f"tidegate: {exc}", err=True)
        raise typer.Exit(1) from None
    result = compare_storm(timeline, plan_a, plan_b)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        return
    _print_comparison(result, all_steps)


def _print_comparison(result: StormComparison, all_steps: bool) -> None:
    console = Console()
    console.print(f"[bold]{result.storm}[/]: A = {result.plan_a}, B = {result.plan_b}")
    console.print(
        f"tasks dispatched over the storm: A {len(result.dispatched('a'))}, "
        f"B {len(result.dispatched('b'))}"
    )
    steps = result.steps if all_steps else tuple(result.differing)
    if not steps:
        console.print("The two plans do the same thing at every step of this storm.")
        return
    table = Table("storm time", "warning", "levels A -> B", "only in A", "only in B")
    for step in steps:
        levels = "; ".join(f"{a}: {x} -> {y}" for a, (x, y) in step.level_differences.items())
        table.add_row(
            step.at.strftime("%m-%d %H:%M"),
            step.warning,
            levels or "same",
            _tasks(step.only_a),
            _tasks(step.only_b),
        )
    console.print(table)


def _tasks(ids: list[str]) -> str:
    if not ids:
        return "-"
    shown = ", ".join(ids[:4])
    return shown + (f" (+{len(ids) - 4})" if len(ids) > 4 else "")


@app.command()
def schedule(
    storm: str | None = typer.Argument(None, help="The storm to drill (for adding a schedule)."),
    cron: str | None = typer.Option(None, "--cron", help="Crontab expression, e.g. '0 9 * * 1'."),
    list_: bool = typer.Option(False, "--list", help="List the scheduled drills."),
    remove: str | None = typer.Option(None, "--remove", help="Remove the scheduled drill ID."),
    speed: float | None = typer.Option(None, "--speed", min=1.0, help="Run with --speed N."),
    seed: int = typer.Option(0, "--seed", help="Seed of every run."),
    report_dir: Path | None = typer.Option(
        None, "--report-dir", help="Where runs write reports (default: <data dir>/drills)."
    ),
    token: str = TOKEN,
) -> None:
    """Add (STORM --cron), list (--list) or remove (--remove ID) drills the worker runs.

    Adding and removing need a token allowed to run drills; a scheduled drill runs as the
    account that scheduled it. Listing needs none.
    """
    settings = load_settings()
    if list_:
        jobs = scheduling.list_drills(settings)
        if not jobs:
            typer.echo("No scheduled drills.")
        for job in jobs:
            by = f"  (by {job.scheduled_by})" if job.scheduled_by else ""
            line = f"{job.id}  {job.trigger}  next {job.next_run or 'paused'}  {job.command}{by}"
            typer.echo(line)
        return
    if remove is not None:
        _unschedule(settings, token, remove)
        return
    if storm is None or cron is None:
        typer.echo("tidegate: give STORM and --cron, or --list, or --remove ID", err=True)
        raise typer.Exit(2)
    timeline = _timeline(storm)  # refuse a storm that would fail every week
    try:
        scheduling.crontab_trigger(cron)
    except ValueError as exc:
        typer.echo(f"tidegate: {exc}", err=True)
        raise typer.Exit(2) from None

    async def add(rt: Services) -> scheduling.ScheduledDrill:
        who = await acting(rt, token, "drill schedule", Permission.DRILL_RUN)
        job = await asyncio.to_thread(
            scheduling.add_drill, settings, storm, cron, speed=speed, seed=seed,
            report_dir=report_dir, scheduled_by=who.name,
        )  # fmt: skip
        note = drill_note(
            who, "drill.scheduled", source=cli_source(), target=timeline.slug, job=job.id,
            cron=cron, speed=speed, seed=seed,
        )  # fmt: skip
        await write_now(rt.sessions, note)
        return job

    job = _checked(settings, add)
    typer.echo(f"scheduled {job.id}: {job.trigger}, next {job.next_run}; the worker runs it")


def _unschedule(settings: Settings, token: str, job_id: str) -> None:
    async def remove(rt: Services) -> bool:
        who = await acting(rt, token, "drill schedule", Permission.DRILL_RUN)
        if not await asyncio.to_thread(scheduling.remove_drill, settings, job_id):
            return False
        note = drill_note(who, "drill.unscheduled", source=cli_source(), target=job_id)
        await write_now(rt.sessions, note)
        return True

    if not _checked(settings, remove):
        typer.echo(f"tidegate: no scheduled drill {job_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"removed {job_id}")


@app.command()
def storms(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """List the bundled storm timelines.

    ``--json``: ``{"storms": [{"storm", "name", "name_zh", "year", "timezone", "from", "to",
    "timed", "warnings", "hq_levels"}]}``, times in ISO 8601 with the storm's offset.
    """
    rows = []
    for slug in bundled_storms():
        timeline = load_timeline(slug)
        kinds = [e.kind.value for e in timeline.events]
        rows.append(
            {
                "storm": slug,
                "name": timeline.name,
                "name_zh": timeline.name_zh,
                "year": timeline.year,
                "timezone": timeline.timezone,
                "from": timeline.start.isoformat(),
                "to": timeline.end.isoformat(),
                "timed": len(timeline.events),
                "warnings": kinds.count("warning"),
                "hq_levels": kinds.count("response"),
            }
        )
    if as_json:
        sys.stdout.write(json.dumps({"storms": rows}, ensure_ascii=False) + "\n")
        return
    table = make_table("storm", "name", "from", "to", "timed", "warnings", "HQ levels")
    for row in rows:
        table.add_row(
            str(row["storm"]),
            f"{row['name']} {row['name_zh']}",
            str(row["from"])[:16].replace("T", " "),
            str(row["to"])[:16].replace("T", " "),
            str(row["timed"]),
            str(row["warnings"]),
            str(row["hq_levels"]),
        )
    console().print(table)
