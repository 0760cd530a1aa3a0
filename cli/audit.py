"""``tidegate audit export``: the audit trail as CSV or JSON (who did what, when, from where).

``--since`` takes an ISO 8601 instant (``2026-07-25T08:00+08:00``; no offset: UTC) or a
duration back from now (``90m``, ``12h``, ``7d``). Output goes to stdout, or ``--output``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from access import audit
from cli.users import _run

app = typer.Typer(help="The audit trail of every action.", no_args_is_help=True)


@app.callback()
def audit_group() -> None:
    """Export the audit trail (who did what, when, from where)."""


_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime | None:
    """An instant from ``--since``/``--until``: ISO 8601, or ``<n>m|h|d`` ago; ``""``: none."""
    if not value:
        return None
    found = _DURATION.match(value.strip())
    if found:
        back = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
        return (now or datetime.now(UTC)) - back
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither an ISO 8601 time nor a duration like 12h"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def export(
    since: str = typer.Option("", "--since", help="From (ISO 8601, or 90m / 12h / 7d ago)."),
    until: str = typer.Option("", "--until", help="Up to, not including (same forms)."),
    format: str = typer.Option("csv", "--format", help="csv or json."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
) -> None:
    """Export the audit trail in the order it was written."""
    if format not in ("csv", "json"):
        raise typer.BadParameter("csv or json", param_hint="--format")
    start, end = parse_since(since), parse_since(until)
    rows = _run(lambda rt: audit.entries(rt.sessions, since=start, until=end))
    text = audit.to_csv(rows) if format == "csv" else audit.to_json(rows)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{len(rows)} entries written to {output}", err=True)
