"""``tidegate agency``: what an agency's desk does from a terminal.

``ack``, ``progress``, ``complete`` and ``decline`` deliver the same event an agency would put on
its ``tidegate.tasks.events.<agency>``, through the same parser, straight to the task's workflow,
so an unknown task id is reported at once. ``listen`` prints the agency's tasks as they arrive.

The answer commands need the API token of an agency desk or agency system account
(``--token`` or ``TIDEGATE_TOKEN``, :func:`cli.identity.acting`): it is checked exactly as
over HTTP (:func:`access.answers.answer_as`), so a desk answers its own agency's tasks only,
and the task's history and the audit trail name the account.

Exit status: 0 delivered, 1 refused (unknown or closed task, bad event), 7 Temporal or the
database cannot be reached, 9 not allowed (no token, a bad token, another agency's task, a
role that answers no tasks) (:class:`cli.exit.ExitCode`). With ``--json`` the answer
commands print one object on stdout: ``{"task_id", "kind", "by", "reason", "result":
"delivered" | "rejected" | "forbidden" | "unreachable", "detail"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import NoReturn

import typer

from access.answers import Answer, answer_as
from alerts.kafka import Refused
from cli.exit import ExitCode
from cli.identity import NOT_ALLOWED, TOKEN, acting, cli_source
from cli.listen import Refused as ListenRefused
from cli.listen import listen as listen_quietly
from config.errors import ConfigError
from config.kafka import client_options
from config.settings import load_settings
from plans.loader import load_plan
from runtime.services import Runtime, run_with

app = typer.Typer(help="Acknowledge, complete or decline tasks; watch an agency's queue.")

BY = typer.Option("", "--by", help="Who answers (team, desk or person), after the account's name.")
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")
COMMANDS = {"acknowledge": "ack"}
"""The command of an answer kind, where the two differ (for the audit trail)."""


def _send(
    task_id: str, kind: str, by: str, token: str, reason: str = "", as_json: bool = False
) -> None:
    settings = load_settings()
    body = {"task_id": task_id, "kind": kind, "by": by, "reason": reason}

    def done(result: str, detail: str, code: ExitCode) -> NoReturn:
        if as_json:
            answer = body | {"result": result, "detail": detail}
            sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        elif code is ExitCode.OK:
            typer.echo(f"{kind} {task_id}")
        else:
            word = {ExitCode.REJECTED: "REJECT", ExitCode.FORBIDDEN: "FORBIDDEN"}
            typer.echo(f"{word.get(code, 'ERROR')} {detail}", err=True)
        raise typer.Exit(code)

    async def go(rt: Runtime) -> str:
        principal = await acting(rt, token, f"agency {COMMANDS.get(kind, kind)}")
        answer = Answer(task_id, kind, by, reason)
        await answer_as(rt.sessions, rt.answers, principal, answer, source=cli_source())
        return principal.name

    try:
        who = run_with(settings, go)
    except Refused as exc:
        done("rejected", exc.reason, ExitCode.REJECTED)
    except NOT_ALLOWED as exc:
        done("forbidden", exc.reason, ExitCode.FORBIDDEN)
    except ConfigError as exc:  # Temporal unreachable
        done("unreachable", f"{exc}; nothing was delivered", ExitCode.UNREACHABLE)
    except Exception as exc:  # the database or Temporal failed mid-way: no traceback
        problem = f"{exc.__class__.__name__}: {exc}"[:300]
        done("unreachable", f"{problem}; nothing was delivered", ExitCode.UNREACHABLE)
    done("delivered", f"{kind} {task_id} by {who}", ExitCode.OK)


@app.command()
def ack(task_id: str, by: str = BY, token: str = TOKEN, as_json: bool = JSON) -> None:
    """Acknowledge a task: the agency has it in hand (stops escalation)."""
    _send(task_id, "acknowledge", by, token, as_json=as_json)


@app.command()
def progress(task_id: str, by: str = BY, token: str = TOKEN, as_json: bool = JSON) -> None:
    """Report that work on a task is under way."""
    _send(task_id, "progress", by, token, as_json=as_json)


@app.command()
def complete(task_id: str, by: str = BY, token: str = TOKEN, as_json: bool = JSON) -> None:
    """Report a task done."""
    _send(task_id, "complete", by, token, as_json=as_json)


@app.command()
def decline(
    task_id: str,
    reason: str = typer.Option(..., help="Why the agency cannot do it."),
    by: str = BY,
    token: str = TOKEN,
    as_json: bool = JSON,
) -> None:
    """Decline a task, with the reason."""
    _send(task_id, "decline", by, token, reason, as_json)


@app.command()
def listen(
    agency: str,
    drill: bool = typer.Option(False, help="Listen to the drill topic instead."),
    from_start: bool = typer.Option(False, "--from-start", help="Replay earlier messages too."),
) -> None:
    """Print the agency's task messages (one JSON line each) as they arrive; Ctrl-C stops.

    The agency must be one of the plan's. While Kafka is unreachable the listener says so once
    and keeps reconnecting quietly (:mod:`cli.listen`). It reads as the configured Kafka user:
    an agency desk sets TIDEGATE_KAFKA_SASL_USERNAME=agency-<id> and its password, and may
    read its own agency's tasks only.
    """
    settings = load_settings()
    known = [a.id for a in load_plan(settings.plan_path).agencies]
    if agency not in known:
        raise typer.BadParameter(
            f"{agency!r} is not an agency of the plan; one of: {', '.join(known)}",
            param_hint="AGENCY",
        )
    topic = settings.topic(f"tasks.{agency}", drill=drill)
    try:
        client = client_options(settings)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(listen_quietly(client, topic, from_start=from_start))
    except (ConfigError, ListenRefused) as exc:
        typer.echo(f"tidegate: {exc}", err=True)
        code = ExitCode.USAGE if isinstance(exc, ConfigError) else ExitCode.REJECTED
        raise typer.Exit(code) from None
