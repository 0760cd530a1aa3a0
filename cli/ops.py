"""Operator commands: ``tidegate worker`` and ``tidegate status``."""

from __future__ import annotations

import asyncio
import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from config.settings import Settings, load_settings
from store.db import create_engine, session_maker
from store.queries import ResponseOverview, overview


def register(app: typer.Typer) -> None:
    """Add the operator commands to the top-level app."""
    app.command("worker")(worker)
    app.command("status")(status)


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
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Show the active responses: the level per area and every task with its state."""
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
        _print(console, row)


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
                "deadline": t.deadline_at.isoformat(),
            }
            for t in row.tasks
        ],
    }


def _print(console: Console, row: ResponseOverview) -> None:
    r = row.response
    levels = ", ".join(f"{area} {level}" for area, level in sorted(r.levels.items())) or "none"
    kind = "DRILL " if r.drill else ""
    console.print(
        f"[bold]{kind}response {r.id}[/bold] ({r.status}; plan {r.plan_id} {r.plan_version})"
    )
    console.print(f"  response level: [bold]{levels}[/bold]")
    table = Table("task", "agency", "area", "state", "deadline")
    for t in row.tasks:
        table.add_row(
            t.id.split("/", 1)[1], t.agency, t.area, t.state, f"{t.deadline_at:%m-%d %H:%M}"
        )
    console.print(table)
