"""``tidegate agency``: what an agency's desk does from a terminal.

``ack``, ``progress``, ``complete`` and ``decline`` deliver the same event an agency would put on
``tidegate.tasks.events``, through the same parser, straight to the task's workflow, so an
unknown task id is reported at once. ``listen`` prints the agency's tasks as they arrive.

Exit status: 0 delivered, 1 refused (unknown or closed task, bad event), 7 Temporal or the
database cannot be reached (:class:`cli.exit.ExitCode`). With ``--json`` the answer commands
print one object on stdout: ``{"task_id", "kind", "by", "reason", "result": "delivered" |
"rejected" | "unreachable", "detail"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import NoReturn

import typer

from alerts.agency_events import deliver, parse_event
from alerts.kafka import Refused
from cli.exit import ExitCode
from cli.listen import listen as listen_quietly
from config.errors import ConfigError
from config.settings import load_settings
from plans.loader import load_plan
from runtime.services import Runtime, run_with

app = typer.Typer(help="Acknowledge, complete or decline tasks; watch an agency's queue.")

BY = typer.Option("", "--by", help="Who answers (team, desk or person).")
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")


def _send(task_id: str, kind: str, by: str, reason: str = "", as_json: bool = False) -> None:
    settings = load_settings()
    body = {"task_id": task_id, "kind": kind, "by": by, "reason": reason}

    async def go(rt: Runtime) -> None:
        event = parse_event(json.dumps(body).encode())
        await deliver(await rt.answers(drill=False), event)

    def done(result: str, detail: str, code: ExitCode) -> NoReturn:
        if as_json:
            answer = body | {"result": result, "detail": detail}
            sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        elif code is ExitCode.OK:
            typer.echo(f"{kind} {task_id}")
        else:
            typer.echo(f"{'REJECT' if code is ExitCode.REJECTED else 'ERROR'} {detail}", err=True)
        raise typer.Exit(code)

    try:
        run_with(settings, go)
    except Refused as exc:
        done("rejected", exc.reason, ExitCode.REJECTED)
    except ConfigError as exc:  # Temporal unreachable
        done("unreachable", f"{exc}; nothing was delivered", ExitCode.UNREACHABLE)
    except Exception as exc:  # the database or Temporal failed mid-way: no traceback
        problem = f"{exc.__class__.__name__}: {exc}"[:300]
        done("unreachable", f"{problem}; nothing was delivered", ExitCode.UNREACHABLE)
    done("delivered", f"{kind} {task_id}", ExitCode.OK)


@app.command()
def ack(task_id: str, by: str = BY, as_json: bool = JSON) -> None:
    """Acknowledge a task: the agency has it in hand (stops escalation)."""
    _send(task_id, "acknowledge", by, as_json=as_json)


@app.command()
def progress(task_id: str, by: str = BY, as_json: bool = JSON) -> None:
    """Report that work on a task is under way."""
    _send(task_id, "progress", by, as_json=as_json)


@app.command()
def complete(task_id: str, by: str = BY, as_json: bool = JSON) -> None:
    """Report a task done."""
    _send(task_id, "complete", by, as_json=as_json)


@app.command()
def decline(
    task_id: str,
    reason: str = typer.Option(..., help="Why the agency cannot do it."),
    by: str = BY,
    as_json: bool = JSON,
) -> None:
    """Decline a task, with the reason."""
    _send(task_id, "decline", by, reason, as_json)


@app.command()
def listen(
    agency: str,
    drill: bool = typer.Option(False, help="Listen to the drill topic instead."),
    from_start: bool = typer.Option(False, "--from-start", help="Replay earlier messages too."),
) -> None:
    """Print the agency's task messages (one JSON line each) as they arrive; Ctrl-C stops.

    The agency must be one of the plan's. While Kafka is unreachable the listener says so once
    and keeps reconnecting quietly (:mod:`cli.listen`).
    """
    settings = load_settings()
    known = [a.id for a in load_plan(settings.plan_path).agencies]
    if agency not in known:
        raise typer.BadParameter(
            f"{agency!r} is not an agency of the plan; one of: {', '.join(known)}",
            param_hint="AGENCY",
        )
    topic = settings.topic(f"tasks.{agency}", drill=drill)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(listen_quietly(settings.kafka_bootstrap, topic, from_start=from_start))
