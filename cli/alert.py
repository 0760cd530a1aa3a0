"""``tidegate alert``: duty officers issue, update, cancel, import and look up warnings.

Every command builds the documented JSON form and runs it through the same ``parse_alert``
that HTTP and Kafka intake use, with the configured plan, so the CLI can never accept what
another channel would refuse. A refused warning is printed and recorded in the ``rejections``
table (channel ``cli``) like any other channel's; recording is best effort, so an unreachable
database never hides the reason or changes the exit status (1).

``issue``, ``update``, ``cancel`` and ``import`` act as the account whose API token they are
given (``--token`` or ``TIDEGATE_TOKEN``, :func:`cli.identity.acting`), checked as over HTTP:
``warning.issue`` for every area of the warning (a district officer: its own district only).
Without a token, with a bad one, or one not allowed, nothing is sent (exit 9); every warning
in and every refusal is in the audit trail, naming the account.

A valid warning is handed to its response workflow (durable from then on), and the command
then waits briefly (``--wait``, default ``TIDEGATE_DECISION_WAIT_SECONDS``) for the response's
decision (:mod:`alerts.decisions`) and says what it was; the exit status tells scripts the
same (:class:`cli.exit.ExitCode`). ``--json`` prints one object of a fixed shape on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer

from access.audit import authorize_audited, warning_note, write_now
from access.matrix import Forbidden, Permission, Principal
from alerts.decisions import DecisionReport, hand_over, lookup_hint
from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from alerts.services import lookup_warning, record_rejection
from cli.alerts_offline import register as register_offline
from cli.exit import ExitCode, database_problem, unreachable_database
from cli.identity import NOT_ALLOWED, TOKEN, acting, cli_source
from config.errors import ConfigError
from config.settings import Settings, load_settings
from plans.loader import load_plan
from plans.model import Plan
from plans.warning import Alert
from runtime.services import Runtime, run_with
from store.queries import warning as find_warning

app = typer.Typer(
    help="Issue, update, cancel, import, look up and validate warnings.", no_args_is_help=True
)
register_offline(app)

CHANNEL = "cli"
RECORD_TIMEOUT = 10.0
"""Seconds to try recording a rejection before giving up (the reason is printed anyway)."""
LOOKUP_TIMEOUT = 10.0
"""Seconds a database read may take before the command reports the database unreachable."""

HAZARD = typer.Option(..., "--hazard", help="wind, typhoon, gale, rainstorm, tide or flood.")
LEVEL = typer.Option(..., "--level", help="blue, yellow, orange or red.")
AREAS = typer.Option(["citywide"], "--area", help="District (Chinese or English) or citywide.")
EXERCISE = typer.Option(False, "--exercise", help="Send as an exercise (routed as a drill).")
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")
WAIT = typer.Option(
    None,
    "--wait",
    min=0.0,
    max=60.0,
    help="Seconds to wait for the decision (default: TIDEGATE_DECISION_WAIT_SECONDS).",
)

EXIT_BY_DECISION = {
    "apply": ExitCode.OK,
    "ignored": ExitCode.OK,
    "duplicate": ExitCode.DUPLICATE,
    "stale": ExitCode.STALE,
    "held": ExitCode.HELD,
    "pending": ExitCode.PENDING,
    "rejected": ExitCode.REJECTED,
    "orphaned": ExitCode.REJECTED,
}
"""Exit status by the response's decision (``alerts.decisions``)."""
SAID = {"apply": "applied", "pending": "queued, decision pending"}
"""How the first word of the result line reads, where it is not the decision itself."""


def _acting(settings: Settings, token: str, command: str, as_json: bool) -> Principal:
    """Who runs ``alert <command>``: the token's account, if its role issues warnings (the
    warning's districts are checked once it is read, :func:`_route`)."""
    try:
        return run_with(
            settings, lambda rt: acting(rt, token, f"alert {command}", Permission.WARNING_ISSUE)
        )
    except NOT_ALLOWED as exc:
        _forbidden(exc.reason, as_json)
    except Exception as exc:  # the accounts live in the database: no traceback
        if not unreachable_database(exc):
            raise
        _unreachable(f"cannot check the token: {database_problem(exc)}; nothing was sent", as_json)


def _deliver(
    document: dict[str, Any], as_json: bool, wait: float | None, who: Principal
) -> NoReturn:
    """Validate like every other channel, then route to the response workflow."""
    _intake(json.dumps(document, ensure_ascii=False).encode(), "REJECT", as_json, wait, who)


def _intake(
    payload: bytes, prefix: str, as_json: bool, wait: float | None, who: Principal
) -> NoReturn:
    settings = load_settings()
    plan = load_plan(settings.plan_path)
    try:
        alert = parse_alert(payload, plan=plan, max_bytes=settings.max_alert_bytes)
    except AlertRejected as exc:
        _reject(settings, who, payload, str(exc), prefix, as_json, field=exc.field, code=exc.code)
    wait = settings.decision_wait_seconds if wait is None else wait
    _route(settings, plan, alert, as_json, wait, who)


def _reject(
    settings: Settings,
    who: Principal,
    payload: bytes,
    reason: str,
    prefix: str = "REJECT",
    as_json: bool = False,
    *,
    field: str | None = None,
    code: str = "schema",
) -> NoReturn:
    """Print why, record it and audit it (best effort), exit 1."""
    typer.echo(f"{prefix} {reason}", err=True)
    try:
        run_with(settings, lambda rt: _record(rt, who, payload, reason))
    except Exception as exc:  # the reason is out; a dead database must not hide it
        typer.echo(f"(rejection not recorded: {exc.__class__.__name__}: {exc})"[:300], err=True)
    if as_json:
        _print_json(_result(None, None, "rejected", reason) | {"field": field, "code": str(code)})
    raise typer.Exit(ExitCode.REJECTED)


async def _record(rt: Runtime, who: Principal, payload: bytes, reason: str) -> None:
    async with asyncio.timeout(RECORD_TIMEOUT):
        await record_rejection(rt.sessions, CHANNEL, payload, reason)
        note = warning_note(who, source=cli_source(), alert=None, outcome="failed", reason=reason)
        await write_now(rt.sessions, note)


async def _audit(rt: Runtime, who: Principal, alert: Alert, outcome: str, **said: str) -> None:
    """The warning's audit entry; best effort, as the decision is what the officer needs."""
    note = warning_note(who, source=cli_source(), alert=alert, outcome=outcome, **said)
    try:
        async with asyncio.timeout(RECORD_TIMEOUT):
            await write_now(rt.sessions, note)
    except Exception as exc:
        problem = f"{exc.__class__.__name__}: {exc}"[:200]
        typer.echo(f"(not written to the audit trail: {problem})", err=True)


def _route(
    settings: Settings, plan: Plan, alert: Alert, as_json: bool, wait: float, who: Principal
) -> NoReturn:
    async def go(rt: Runtime) -> DecisionReport:
        await authorize_audited(
            rt.sessions, who, Permission.WARNING_ISSUE, districts=alert.areas,
            target=alert.id, source=cli_source(),
        )  # fmt: skip
        try:
            client = await rt.temporal()
            got = await hand_over(
                client, rt.sessions, settings.task_queue, settings.region, plan, alert, wait
            )
        except Exception:
            await _audit(rt, who, alert, "failed", reason="not handed to its response (not sent)")
            raise
        await _audit(rt, who, alert, "ok", decision=got.decision)
        return got

    try:
        got = run_with(settings, go)
    except Forbidden as exc:
        _forbidden(exc.reason, as_json, alert)
    except ConfigError as exc:  # Temporal unreachable: say so, no traceback
        _unreachable(f"{exc}; the warning was NOT sent", as_json, alert)
    except Exception as exc:
        _unreachable(
            f"could not hand the warning to Temporal ({exc.__class__.__name__}: {exc}); "
            "it was NOT sent",
            as_json,
            alert,
        )
    if as_json:
        _print_json(_result(alert, got, got.decision, got.reason))
    else:
        where = f" -> {got.workflow_id}" if got.workflow_id else ""
        areas = ",".join(alert.areas)
        typer.echo(
            f"{SAID.get(got.decision, got.decision)} {alert.kind} {alert.id}: "
            f"{alert.hazard} {alert.level} {areas}{where}"
        )
        typer.echo(f"  {got.reason}")
    raise typer.Exit(EXIT_BY_DECISION.get(got.decision, ExitCode.PENDING))


def _forbidden(reason: str, as_json: bool, alert: Alert | None = None) -> NoReturn:
    typer.echo(f"FORBIDDEN {reason}; nothing was sent"[:600], err=True)
    if as_json:
        _print_json(_result(alert, None, "forbidden", reason))
    raise typer.Exit(ExitCode.FORBIDDEN)


def _unreachable(message: str, as_json: bool, alert: Alert | None = None) -> NoReturn:
    typer.echo(f"ERROR {message}"[:600], err=True)
    if as_json:
        _print_json(_result(alert, None, "unreachable", message))
    raise typer.Exit(ExitCode.UNREACHABLE)


def _result(
    alert: Alert | None, got: DecisionReport | None, decision: str, reason: str
) -> dict[str, Any]:
    """The ``--json`` object: the same keys whatever happened (``docs/alerts.md``)."""
    return {
        "id": alert.id if alert else None,
        "kind": str(alert.kind) if alert else None,
        "route": str(alert.route) if alert else None,
        "hazard": str(alert.hazard) if alert else None,
        "level": str(alert.level) if alert else None,
        "areas": list(alert.areas) if alert else None,
        "decision": decision,
        "reason": reason,
        "workflow_id": got.workflow_id if got else None,
        "response_id": got.response_id if got else None,
        "warning": got.warning if got else None,
        "decided_at": got.decided_at.isoformat() if got and got.decided_at else None,
        "lookup": lookup_hint(alert.id) if alert else None,
        "field": None,
        "code": None,
    }


def _print_json(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def _document(
    who: Principal,
    kind: str,
    hazard: str,
    level: str,
    areas: list[str],
    exercise: bool,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": extra.pop("id", None) or f"cli-{uuid.uuid4().hex[:12]}",
        "sender": f"{who.name}@tidegate",
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
    as_json: bool = JSON,
    wait: float | None = WAIT,
    token: str = TOKEN,
) -> None:
    """Issue a new warning; units start their tasks at once, without approval."""
    who = _acting(load_settings(), token, "issue", as_json)
    document = _document(
        who, "alert", hazard, level, area, exercise, id=alert_id, headline=headline,
        expires=expires,
    )  # fmt: skip
    _deliver(document, as_json, wait, who)


@app.command()
def update(
    reference: str = typer.Argument(..., help="Id of the warning to update."),
    hazard: str = HAZARD,
    level: str = LEVEL,
    area: list[str] = AREAS,
    exercise: bool = EXERCISE,
    as_json: bool = JSON,
    wait: float | None = WAIT,
    token: str = TOKEN,
) -> None:
    """Upgrade or downgrade a warning in force (the response adds or stands down work)."""
    who = _acting(load_settings(), token, "update", as_json)
    document = _document(who, "update", hazard, level, area, exercise, references=[reference])
    _deliver(document, as_json, wait, who)


@app.command()
def cancel(
    reference: str = typer.Argument(..., help="Id of the warning to cancel."),
    exercise: bool = EXERCISE,
    as_json: bool = JSON,
    wait: float | None = WAIT,
    token: str = TOKEN,
) -> None:
    """Lift a warning; tasks the plan stands down are stood down."""
    settings = load_settings()
    who = _acting(settings, token, "cancel", as_json)

    async def lookup(rt: Runtime) -> tuple[str, str, list[str]] | None:
        async with asyncio.timeout(LOOKUP_TIMEOUT), rt.sessions() as session:
            found = await find_warning(session, reference)
            return (found.hazard, found.level, list(found.areas)) if found else None

    try:
        found = run_with(settings, lookup)
    except Exception as exc:  # no traceback for a database that is down
        _unreachable(f"cannot look up {reference!r}: {database_problem(exc)}", as_json)
    if found is None:
        request = {"kind": "cancel", "references": [reference], "exercise": exercise}
        _reject(
            settings,
            who,
            json.dumps(request, ensure_ascii=False).encode(),
            f"references: no warning {reference!r} has been received",
            as_json=as_json,
            field="references",
        )
    hazard, level, areas = found
    document = _document(who, "cancel", hazard, level, areas, exercise, references=[reference])
    _deliver(document, as_json, wait, who)


@app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    as_json: bool = JSON,
    wait: float | None = WAIT,
    token: str = TOKEN,
) -> None:
    """Send a warning file (JSON or CAP 1.2 XML) through intake."""
    who = _acting(load_settings(), token, "import", as_json)
    _intake(path.read_bytes(), f"REJECT {path}:", as_json, wait, who)


@app.command()
def show(
    alert_id: str = typer.Argument(..., help="Id of a message (alert, update or cancel)."),
    as_json: bool = JSON,
) -> None:
    """What became of a message: the decision that stands, every decision, later changes.

    The same as ``GET /alerts/{id}``. Exits 1 if no response has recorded the id (yet).
    """
    settings = load_settings()

    async def go(rt: Runtime) -> dict[str, Any] | None:
        async with asyncio.timeout(LOOKUP_TIMEOUT):
            return await lookup_warning(rt.sessions, alert_id)

    try:
        view = run_with(settings, go)
    except Exception as exc:
        _unreachable(f"cannot look up {alert_id!r}: {database_problem(exc)}", False)
    if view is None:
        typer.echo(f"no message {alert_id!r} has been recorded (yet)", err=True)
        if as_json:
            _print_json({"id": alert_id, "found": False})
        raise typer.Exit(ExitCode.REJECTED)
    if as_json:
        _print_json({**view, "found": True})
        return
    for line in _view_lines(view):
        typer.echo(line)


def _view_lines(view: dict[str, Any]) -> list[str]:
    lines = [
        f"{view['id']}: {view['status']} {view['kind']} {view['hazard']} {view['level']} "
        f"{','.join(view['areas'])} (response {view['response_id']})",
        f"  decision: {view['decision']}" + (f" ({view['reason']})" if view["reason"] else ""),
    ]
    if view["references"]:
        lines.append(f"  references: {', '.join(view['references'])}")
    if view["warning"] and view["warning"] != view["id"]:
        lines.append(f"  warning: {view['warning']}")
    history = ", ".join(f"{d['decision']} at {d['at']}" for d in view["decisions"])
    lines.append(f"  decisions: {history}")
    if view["effect"]:
        lines.append(f"  since then: {view['effect']}")
    return lines
