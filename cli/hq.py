"""``tidegate hq``: the flood-control headquarters' own decisions (``plans.hq``).

``declare`` starts, raises, lowers, holds or ends a response for the city or named districts,
with a reason; ``withdraw`` takes a declaration back. Warnings keep starting units without
anyone's approval; a declaration changes the level the response acts on for its areas until it
is withdrawn or superseded, except that any red signal raises above it (docs/plans.md, "HQ
decisions"). The decision is handed to the region's response workflow (durable from then on),
checked like every other way in: the token (``--token`` / ``TIDEGATE_TOKEN``) of an HQ
commander, a duty officer, or a district officer for its own district, and audited.

Exit status (:class:`cli.exit.ExitCode`): 0 handed on, 1 refused (malformed), 7 Temporal or
the database cannot be reached, 9 no valid token or not allowed (audited).
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import NoReturn

import typer

from access import audit
from access.audit import authorize_audited
from access.matrix import Permission
from alerts.errors import AlertRejected
from alerts.hq import in_force, withdrawn_areas
from cli.exit import ExitCode
from cli.identity import NOT_ALLOWED, TOKEN, acting, cli_source
from config.errors import ConfigError
from config.settings import load_settings
from plans.catalogue import canonical_areas, read_areas
from plans.errors import PlanError
from plans.hq import HqDecision, HqKind, problem
from plans.model import Hazard, Plan, ResponseLevel
from plans.terms import parse_hazard
from runtime.services import Runtime, run_with
from workflows.starters import declare as hand_over

app = typer.Typer(help="The HQ's own decisions: start, raise, lower, hold, end, withdraw.")

JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")


class Refused(Exception):
    """The decision can never apply; the message says why."""


@app.command("declare")
def declare_command(
    kind: str = typer.Argument(..., help="start, raise, lower, hold or end."),
    level: str = typer.Option("", "--level", help="IV, III, II or I (not for end)."),
    area: list[str] = typer.Option(["citywide"], "--area", help="citywide or a district."),
    reason: str = typer.Option(..., "--reason", help="Why the HQ decided so (recorded)."),
    hazard: list[str] = typer.Option(
        [], "--hazard", help="A hazard the response is for, ahead of any signal (repeatable)."
    ),
    by: str = typer.Option("", "--by", help="Who decided, if not the account's holder."),
    decision_id: str = typer.Option("", "--id", help="Decision id (default: generated)."),
    token: str = TOKEN,
    as_json: bool = JSON,
) -> None:
    """Declare a response start, raise, lower, hold or end for the city or districts."""
    settings = load_settings()
    try:
        plan = Runtime(settings).plan
        decision = HqDecision(
            id=decision_id or f"hq-{uuid.uuid4().hex[:12]}",
            decided_by=by,
            sent=datetime.now(UTC),
            kind=_kind(kind, withdraw=False),
            level=_level(level),
            areas=_areas(area, plan),
            hazards=tuple(_hazard(h, plan) for h in hazard),
            reason=reason.strip(),
        )
    except (Refused, PlanError) as exc:
        _done(as_json, "rejected", str(exc), None, ExitCode.REJECTED)
    _send(settings.region, decision, token, as_json)


@app.command()
def withdraw(
    declaration: str = typer.Argument(..., help="Id of the declaration to take back."),
    reason: str = typer.Option("", "--reason", help="Why (recorded)."),
    by: str = typer.Option("", "--by", help="Who decided, if not the account's holder."),
    token: str = TOKEN,
    as_json: bool = JSON,
) -> None:
    """Withdraw a declaration: its areas go back to the signals (or an older declaration)."""
    settings = load_settings()
    decision = HqDecision(
        id=f"hq-{uuid.uuid4().hex[:12]}",
        decided_by=by,
        sent=datetime.now(UTC),
        kind=HqKind.WITHDRAW,
        references=(declaration,),
        reason=reason.strip(),
    )
    _send(settings.region, decision, token, as_json)


def _send(region: str, decision: HqDecision, token: str, as_json: bool) -> NoReturn:
    settings = load_settings()

    async def go(rt: Runtime) -> str:
        wrong = problem(decision, tuple(d.id for d in rt.plan.districts))
        if wrong:
            raise Refused(wrong)
        who = await acting(rt, token, f"hq {decision.kind}", Permission.HQ_DECIDE)
        target = f"hq:{decision.id}"
        areas = decision.areas
        if decision.kind is HqKind.WITHDRAW:  # what it gives back: a district's, or the city's
            declared = (await in_force(rt.sessions, region)).declarations
            try:
                areas = withdrawn_areas(decision, declared)
            except AlertRejected as exc:
                raise Refused(str(exc)) from None
        await authorize_audited(
            rt.sessions, who, Permission.HQ_DECIDE, target=target, source=cli_source(),
            districts=areas or None,
        )  # fmt: skip
        signed = HqDecision(**{**vars(decision), "decided_by": decision.decided_by or who.name})
        client = await rt.temporal()
        workflow_id = await hand_over(client, settings.task_queue, region, rt.plan, signed)
        note = audit.Note(
            audit.Actor.of(who),
            "hq.decision",
            target,
            source=cli_source(),
            detail={"kind": str(decision.kind), "areas": list(decision.areas)},
        )
        await audit.write_now(rt.sessions, note)
        return workflow_id

    try:
        workflow_id = run_with(settings, go)
    except Refused as exc:
        _done(as_json, "rejected", str(exc), decision, ExitCode.REJECTED)
    except NOT_ALLOWED as exc:
        _done(as_json, "forbidden", exc.reason, decision, ExitCode.FORBIDDEN)
    except ConfigError as exc:
        _done(as_json, "unreachable", f"{exc}; nothing was sent", decision, ExitCode.UNREACHABLE)
    except Exception as exc:  # the database or Temporal failed mid-way: no traceback
        problem_text = f"{exc.__class__.__name__}: {exc}"[:300]
        _done(as_json, "unreachable", f"{problem_text}; nothing was sent", decision,
              ExitCode.UNREACHABLE)  # fmt: skip
    _done(as_json, "handed on", f"{decision.kind} {decision.id} -> {workflow_id}", decision,
          ExitCode.OK)  # fmt: skip


def _done(
    as_json: bool, result: str, detail: str, decision: HqDecision | None, code: ExitCode
) -> NoReturn:
    if as_json:
        body = {
            "id": decision.id if decision else None,
            "kind": str(decision.kind) if decision else None,
            "result": result,
            "detail": detail,
        }
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    elif code is ExitCode.OK:
        typer.echo(f"{result}: {detail}")
    else:
        typer.echo(f"{'REJECT' if code is ExitCode.REJECTED else 'ERROR'} {detail}", err=True)
    raise typer.Exit(code)


def _kind(text: str, *, withdraw: bool) -> HqKind:
    try:
        kind = HqKind(text.strip().lower())
    except ValueError:
        raise Refused(f"kind: {text!r} is not start, raise, lower, hold or end") from None
    if kind is HqKind.WITHDRAW and not withdraw:
        raise Refused("kind: use `tidegate hq withdraw ID` to take a declaration back")
    return kind


def _level(text: str) -> ResponseLevel | None:
    if not text.strip():
        return None
    try:
        return ResponseLevel(text.strip().upper())
    except ValueError:
        raise Refused(f"level: {text!r} is not IV, III, II or I") from None


def _areas(names: list[str], plan: Plan) -> tuple[str, ...]:
    found: list[str] = []
    for name in names:
        try:
            found += read_areas(name, plan)
        except Exception as exc:  # the catalogue's UnknownNameError says which name
            raise Refused(f"area: {exc}") from None
    return canonical_areas(found, plan)


def _hazard(name: str, plan: Plan) -> Hazard:
    hazard = parse_hazard(name, plan)
    if hazard is None:
        raise Refused(f"hazard: {name!r} is not a hazard of the plan")
    return hazard
