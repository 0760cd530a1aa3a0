"""Operator commands: ``tidegate worker`` and ``tidegate status``."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from config.settings import Settings, load_settings
from devstack.topics import ensure_topics, standard_topics
from plans.loader import load_plan
from store.db import create_engine, session_maker
from store.queries import ResponseOverview, overview


def register(app: typer.Typer) -> None:
    """Add the operator commands to the top-level app."""
    app.command("worker")(worker)
    app.command("status")(status)
    app.command("topics")(topics)


def worker() -> None:
    """Run the Temporal worker and the Kafka consumers (same as ``python worker.py``)."""
    import worker as worker_module

    raise typer.Exit(worker_module.main())


async def _overview(settings: Settings, include_closed: bool) -> list[ResponseOverview]:
    engine = create_engine(settings.db_url)
    try:
        async with session_maker(engine)() as session:
            return await overview(session, include_closed=include_closed)
    finally:
        await engine.dispose()


def status(
    all_: bool = typer.Option(False, "--all", help="Include closed responses."),
    tasks: bool = typer.Option(False, "--tasks", help="List every task, not just the counts."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Show the active responses: the level per area and where every task stands."""
    settings = load_settings()
    rows = asyncio.run(_overview(settings, all_))
    if as_json:
        sys.stdout.write(json.dumps({"responses": [_as_dict(r) for r in rows]}, default=str))
        sys.stdout.write("\n")
        return
    console = Console()
    if not rows:
        console.print("No active response. Issue a warning with `tidegate alert issue ...`.")
        return
    for row in rows:
        _print(console, row, tasks)


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything tidegate stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_dict(row: ResponseOverview) -> dict[str, object]:
    r = row.response
    return {
        "id": r.id,
        "drill": r.drill,
        "status": r.status,
        "plan": f"{r.plan_id}@{r.plan_version}",
        "levels": r.levels,
        "tasks": [
            {
                "id": t.id,
                "agency": t.agency,
                "action": t.action_id,
                "area": t.area,
                "asset": t.asset,
                "state": t.state,
                "deadline": _utc(t.deadline_at).isoformat(),
            }
            for t in row.tasks
        ],
    }


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


def _print(console: Console, row: ResponseOverview, list_tasks: bool) -> None:
    r = row.response
    kind = "DRILL " if r.drill else ""
    console.print(
        f"[bold]{kind}response {r.id}[/bold] ({r.status}; plan {r.plan_id} {r.plan_version})"
    )
    console.print(f"  response level: [bold]{_levels_line(r.levels)}[/bold]")
    if list_tasks:
        table = Table("task", "state", "deadline (UTC)")
        for t in row.tasks:
            table.add_row(t.id, t.state, f"{_utc(t.deadline_at):%m-%d %H:%M}")
        console.print(table)
        return
    states = sorted({t.state for t in row.tasks})
    table = Table("agency", "tasks", *states, title="tasks by agency (--tasks lists them)")
    for agency in sorted({t.agency for t in row.tasks}):
        mine = [t for t in row.tasks if t.agency == agency]
        counts = [str(sum(t.state == s for t in mine) or "") for s in states]
        table.add_row(agency, str(len(mine)), *counts)
    console.print(table)


def topics() -> None:
    """Create every topic tidegate uses, live and drill, on the configured Kafka cluster.

    ``make run`` does this for the embedded broker; run it once against your own cluster.
    Existing topics are left as they are.
    """
    settings = load_settings()
    agencies = [agency.id for agency in load_plan(settings.plan_path).agencies]
    wanted = standard_topics(settings, agencies)
    asyncio.run(ensure_topics(settings.kafka_bootstrap, wanted))
    typer.echo(f"{len(wanted)} topics present on {settings.kafka_bootstrap}")
