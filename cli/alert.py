"""``tidegate alert``: duty officers issue, update, cancel and import warnings.

Every command builds the documented JSON form and runs it through the same ``parse_alert``
that HTTP and Kafka intake use, with the configured plan, so the CLI can never accept what
another channel would refuse. A refused warning is printed and recorded in the ``rejections``
table (channel ``cli``) like any other channel's; recording is best effort, so an unreachable
database never hides the reason or changes the exit status (1).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer

from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from alerts.model import Alert
from alerts.route import submit
from alerts.services import record_rejection
from cli.alerts_offline import register as register_offline
from config.settings import Settings, load_settings
from plans.loader import load_plan
from plans.model import Plan
from store.db import create_engine, session_maker
from store.queries import warning as find_warning
from worker import connect_temporal

app = typer.Typer(help="Issue, update, cancel, import and validate warnings.", no_args_is_help=True)
register_offline(app)

CHANNEL = "cli"
RECORD_TIMEOUT = 10.0
"""Seconds to try recording a rejection before giving up (the reason is printed anyway)."""

HAZARD = typer.Option(..., "--hazard", help="wind, typhoon, gale, rainstorm, tide or flood.")
LEVEL = typer.Option(..., "--level", help="blue, yellow, orange or red.")
AREAS = typer.Option(["citywide"], "--area", help="District (Chinese or English) or citywide.")
EXERCISE = typer.Option(False, "--exercise", help="Send as an exercise (routed as a drill).")


def _deliver(document: dict[str, Any]) -> None:
    """Validate like every other channel, then route to the response workflow."""
    _intake(json.dumps(document, ensure_ascii=False).encode(), "REJECT")


def _intake(payload: bytes, prefix: str) -> None:
    settings = load_settings()
    plan = load_plan(settings.plan_path)
    try:
        alert = parse_alert(payload, plan=plan, max_bytes=settings.max_alert_bytes)
    except AlertRejected as exc:
        _reject(settings, payload, str(exc), prefix)
    _route(settings, plan, alert)


def _reject(settings: Settings, payload: bytes, reason: str, prefix: str = "REJECT") -> NoReturn:
    """Print why, record it (best effort), exit 1."""
    typer.echo(f"{prefix} {reason}", err=True)
    try:
        asyncio.run(_record(settings, payload, reason))
    except Exception as exc:  # the reason is out; a dead database must not hide it
        typer.echo(f"(rejection not recorded: {exc.__class__.__name__}: {exc})"[:300], err=True)
    raise typer.Exit(1)


async def _record(settings: Settings, payload: bytes, reason: str) -> None:
    engine = create_engine(settings.db_url)
    try:
        sessions = session_maker(engine)
        async with asyncio.timeout(RECORD_TIMEOUT):
            await record_rejection(sessions, CHANNEL, payload, reason)
    finally:
        await engine.dispose()


def _route(settings: Settings, plan: Plan, alert: Alert) -> None:
    async def go() -> str | None:
        client = await connect_temporal(settings)
        routed = await submit(client, settings.task_queue, settings.region, plan, alert)
        return routed.workflow_id

    workflow_id = asyncio.run(go())
    where = f"response workflow {workflow_id}" if workflow_id else "nowhere (test message)"
    typer.echo(f"accepted {alert.kind} {alert.id}: {alert.hazard} {alert.level} -> {where}")


def _document(
    kind: str, hazard: str, level: str, areas: list[str], exercise: bool, **extra: Any
) -> dict[str, Any]:
    return {
        "id": extra.pop("id", None) or f"cli-{uuid.uuid4().hex[:12]}",
        "sender": "duty-officer@tidegate",
        "sent": datetime.now(UTC).isoformat(),
        "status": "exercise" if exercise else "actual",
        "kind": kind,
        "hazard": hazard,
        "level": level,
        "areas": areas,
        **{k: v for k, v in extra.items() if v is not None},
    }


@app.command()
def issue(
    hazard: str = HAZARD,
    level: str = LEVEL,
    area: list[str] = AREAS,
    headline: str = typer.Option("", help="One-line headline."),
    expires: str | None = typer.Option(None, help="ISO 8601 time the warning lapses."),
    alert_id: str | None = typer.Option(None, "--id", help="Message id (default: generated)."),
    exercise: bool = EXERCISE,
) -> None:
    """Issue a new warning; units start their tasks at once, without approval."""
    _deliver(
        _document(
            "alert", hazard, level, area, exercise, id=alert_id, headline=headline, expires=expires
        )
    )


@app.command()
def update(
    reference: str = typer.Argument(..., help="Id of the warning to update."),
    hazard: str = HAZARD,
    level: str = LEVEL,
    area: list[str] = AREAS,
    exercise: bool = EXERCISE,
) -> None:
    """Upgrade or downgrade a warning in force (the response adds or stands down work)."""
    _deliver(_document("update", hazard, level, area, exercise, references=[reference]))


@app.command()
def cancel(
    reference: str = typer.Argument(..., help="Id of the warning to cancel."),
    exercise: bool = EXERCISE,
) -> None:
    """Lift a warning; tasks the plan stands down are stood down."""
    settings = load_settings()

    async def lookup() -> tuple[str, str, list[str]] | None:
        engine = create_engine(settings.db_url)
        try:
            async with session_maker(engine)() as session:
                found = await find_warning(session, reference)
                return (found.hazard, found.level, list(found.areas)) if found else None
        finally:
            await engine.dispose()

    try:
        found = asyncio.run(lookup())
    except Exception as exc:  # no traceback for a database that is down
        typer.echo(f"ERROR cannot look up {reference!r}: {exc.__class__.__name__}", err=True)
        raise typer.Exit(1) from None
    if found is None:
        request = {"kind": "cancel", "references": [reference], "exercise": exercise}
        _reject(
            settings,
            json.dumps(request, ensure_ascii=False).encode(),
            f"references: no warning {reference!r} has been received",
        )
    hazard, level, areas = found
    _deliver(_document("cancel", hazard, level, areas, exercise, references=[reference]))


@app.command("import")
def import_(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Send a warning file (JSON or CAP 1.2 XML) through intake."""
    _intake(path.read_bytes(), f"REJECT {path}:")
