"""``tidegate alert validate FILE...``: check warning files with no service running.

The command runs :func:`alerts.intake.parse_alert`, the exact function every intake channel
uses, with the configured plan (``TIDEGATE_PLAN_PATH``, or ``--plan``) naming the areas, so it
applies every stateless rule (size limit, UTF-8, JSON/XML syntax, CAP 1.2 schema, hazard, level
and area mapping). Stateful rules (duplicates, ordering) need the running ledger and are not
checked here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from alerts.errors import AlertRejected
from alerts.intake import DEFAULT_MAX_BYTES, check_size, parse_alert
from config.settings import load_settings
from plans.errors import PlanError
from plans.loader import load_plan
from plans.model import Plan


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command to the ``alert`` sub-app."""
    app.command("validate")(validate)


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="Warning files (JSON form or CAP 1.2 XML).", show_default=False),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object for machines.")
    ] = False,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=1, help="Payload size limit, as at intake.")
    ] = DEFAULT_MAX_BYTES,
    plan_path: Annotated[
        Path | None,
        typer.Option("--plan", help="Plan whose area names apply (default: the configured one)."),
    ] = None,
) -> None:
    """Print ACCEPT or REJECT (with the reason) for each file; exit 1 if any is rejected."""
    try:
        plan = load_plan(plan_path or load_settings().plan_path)
    except PlanError as exc:
        typer.echo(f"cannot use the plan: {exc}", err=True)
        raise typer.Exit(2) from None
    results = [check_file(path, max_bytes, plan) for path in files]
    rejected = sum(1 for r in results if r["verdict"] == "reject")
    if as_json:
        summary = {"accepted": len(results) - rejected, "rejected": rejected, "files": results}
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        for result in results:
            typer.echo(_line(result))
    if rejected:
        raise typer.Exit(1)


def check_file(path: Path, max_bytes: int, plan: Plan | None = None) -> dict[str, Any]:
    """Validate one file; the result is the JSON-ready verdict for that file."""
    try:
        check_size(path.stat().st_size, max_bytes)
        alert = parse_alert(path.read_bytes(), plan=plan, max_bytes=max_bytes)
    except AlertRejected as problem:
        return _rejection(path, problem.reason, problem.field, problem.code.value)
    except OSError as exc:
        return _rejection(path, f"cannot read the file: {exc.strerror or exc}", None, "io")
    return {
        "file": str(path),
        "verdict": "accept",
        "route": alert.route.value,
        "alert": alert.to_json(),
    }


def _rejection(path: Path, reason: str, field: str | None, code: str) -> dict[str, Any]:
    return {"file": str(path), "verdict": "reject", "reason": reason, "field": field, "code": code}


def _line(result: dict[str, Any]) -> str:
    if result["verdict"] == "reject":
        where = f"{result['field']}: " if result["field"] else ""
        return f"REJECT {result['file']}: {where}{result['reason']}"
    alert = result["alert"]
    return (
        f"ACCEPT {result['file']}: {alert['id']} {alert['status']} {alert['kind']} "
        f"{alert['hazard']} {alert['level']} {','.join(alert['areas'])} -> {result['route']}"
    )
