"""``tidegate db``: schema management."""

from __future__ import annotations

import typer

from config.settings import load_settings
from store.migrate import upgrade as run_upgrade

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the schema; running it again changes nothing."""
    settings = load_settings()
    run_upgrade(settings.db_url, revision)
    typer.echo(f"database schema at {revision}: {settings.db_url}", err=True)
