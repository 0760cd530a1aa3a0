"""Operator commands: ``tidegate worker``, ``tidegate status`` (:mod:`cli.status`), ``topics``."""

from __future__ import annotations

import asyncio

import typer

from cli.status import status
from config.settings import load_settings
from plans.loader import load_plan
from runtime.ops import ensure_topics, standard_topics


def register(app: typer.Typer) -> None:
    """Add the operator commands to the top-level app."""
    app.command("worker")(worker)
    app.command("status")(status)
    app.command("topics")(topics)


def worker() -> None:
    """Run the Temporal worker and the Kafka consumers (same as ``python worker.py``)."""
    import worker as worker_module

    raise typer.Exit(worker_module.main())


def topics() -> None:
    """Create every topic tidegate uses, live and drill, on the configured Kafka cluster.

    ``make run`` does this for the embedded broker; run it once against your own cluster.
    Existing topics are left as they are.
    """
    settings = load_settings()
    agencies = [agency.id for agency in load_plan(settings.plan_path).agencies]
    wanted = standard_topics(settings, agencies)
    asyncio.run(ensure_topics(settings.kafka_bootstrap, wanted))
    typer.echo(f"{len(wanted)} topics present on {settings.kafka_bootstrap}")
