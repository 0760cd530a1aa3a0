"""The ``tidegate`` command: one entry point for duty officers, agencies and operators."""

from __future__ import annotations

import sys

import typer

from cli import agency, alert, audit, db, drill, hq, ops, plan, serve, users
from cli.exit import exit_now
from config.errors import ConfigError

app = typer.Typer(
    help="tidegate: flood and typhoon emergency response orchestration.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(alert.app, name="alert")
app.add_typer(db.app, name="db")
app.add_typer(agency.app, name="agency")
app.add_typer(plan.app, name="plan")
app.add_typer(hq.app, name="hq")
app.add_typer(drill.app, name="drill")
app.add_typer(users.users, name="users")
app.add_typer(users.tokens, name="tokens")
app.add_typer(audit.app, name="audit")
ops.register(app)
app.command("serve")(serve.serve)


def main() -> None:
    """Console-script entry point: configuration problems are one line, never a traceback."""
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    except ConfigError as exc:
        sys.stderr.write(f"tidegate: {exc}\n")
        code = 2
    exit_now(code)


if __name__ == "__main__":
    main()
