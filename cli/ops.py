"""Operator commands: ``tidegate worker``, ``tidegate status`` (:mod:`cli.status`), ``topics``."""

from __future__ import annotations

import asyncio

import typer

from cli.status import status
from config.errors import ConfigError
from config.kafka import describe
from config.settings import load_settings
from plans.loader import load_plan
from runtime.ops import (
    HQ_USER,
    OpsError,
    agency_user,
    ensure_access,
    ensure_topics,
    standard_topics,
)


def register(app: typer.Typer) -> None:
    """Add the operator commands to the top-level app."""
    app.command("worker")(worker)
    app.command("status")(status)
    app.command("topics")(topics)


def worker() -> None:
    """Run the Temporal worker and the Kafka consumers (same as ``python worker.py``)."""
    import worker as worker_module

    raise typer.Exit(worker_module.main())


def topics(
    acls: bool = typer.Option(
        True,
        "--acls/--no-acls",
        help="Also give each agency's Kafka user (agency-<id>) and the HQ's (hq) their rights "
        "(SASL only).",
    ),
    worker_user: str = typer.Option(
        "",
        "--worker-user",
        help="Also give this Kafka user what the worker needs, when tidegate's user is not a "
        "super user (run as an admin user).",
    ),
) -> None:
    """Create every topic tidegate uses, live and drill, on the configured Kafka cluster, and
    the agencies' ACLs (docs/kafka-security.md).

    ``make run`` does this for the embedded broker; run it against your own cluster once, and
    again when the plan gains an agency. Existing topics and ACLs are left as they are. The
    agencies' users themselves (SCRAM credentials) are yours to create.
    """
    settings = load_settings()
    agencies = [agency.id for agency in load_plan(settings.plan_path).agencies]
    secured = settings.kafka_security_protocol != "PLAINTEXT"
    try:
        wanted = standard_topics(settings, agencies)
        asyncio.run(ensure_topics(settings, wanted))
        typer.echo(f"{len(wanted)} topics present on {describe(settings)}")
        if acls and secured:
            asyncio.run(ensure_access(settings, agencies, worker_user=worker_user or None))
            users = ", ".join(agency_user(a) for a in agencies)
            typer.echo(f"ACLs present for {len(agencies)} agency users: {users}")
            typer.echo(f"ACLs present for the HQ's user {HQ_USER} (writes its decisions)")
            if worker_user:
                typer.echo(f"ACLs present for the worker's user {worker_user}")
    except (ConfigError, OpsError) as exc:
        typer.echo(f"tidegate: {exc}", err=True)
        raise typer.Exit(2) from None
