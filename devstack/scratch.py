"""A throw-away stack for scripts: Temporal dev server, Kafka and SQLite in a temp directory.

``make bench`` and ``tests/histories/record.py`` need real services but must never touch a
developer's ``make run`` state or ports, so they get their own: free ports, a fresh Kafka
storage, an SQLite file and (optionally) a Temporal database file, all under one directory
that is deleted afterwards unless the caller passes its own.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings, load_settings
from devstack._proc import free_ports
from devstack.kafka import KafkaBroker
from devstack.temporal import TemporalDevServer
from plans.loader import load_plan
from runtime.ops import ensure_topics, standard_topics
from store.migrate import upgrade_async

log = logging.getLogger(__name__)


@dataclass
class Scratch:
    """The running services and the settings that point at them."""

    settings: Settings
    temporal: TemporalDevServer
    kafka: KafkaBroker


@contextlib.asynccontextmanager
async def scratch_stack(
    root: Path | None = None, *, temporal_db: bool = False, **overrides: object
) -> AsyncIterator[Scratch]:
    """Start Temporal and Kafka on free ports, create the topics, migrate SQLite.

    Args:
        root: directory for all state; a new temp directory (deleted afterwards) if ``None``.
        temporal_db: persist Temporal to ``root/temporal.db`` (survives a server restart).
        overrides: extra :class:`Settings` fields (task queue, region, ...).

    Yields:
        The services and their settings; everything is stopped when the block ends.
    """
    owned = root is None
    base = Path(tempfile.mkdtemp(prefix="tidegate-scratch-")) if root is None else root
    temporal_port, kafka_port, controller_port, ui_port = free_ports(4)
    settings = load_settings(
        **{
            "data_dir": base,
            "temporal_address": f"127.0.0.1:{temporal_port}",
            "temporal_ui_port": ui_port,
            "kafka_bootstrap": f"127.0.0.1:{kafka_port}",
            "kafka_controller_port": controller_port,
            "database_url": "",
            **overrides,
        }
    )
    temporal = TemporalDevServer(
        port=temporal_port,
        ui_port=ui_port,
        db_file=base / "temporal.db" if temporal_db else None,
        log_file=base / "temporal" / "temporal.log",
        namespace=settings.temporal_namespace,
        headless=True,
    )
    kafka = KafkaBroker(
        version=settings.kafka_version,
        port=kafka_port,
        controller_port=controller_port,
        cache_dir=settings.kafka_cache_dir,
        data_dir=base / "kafka",
    )
    try:
        with contextlib.ExitStack() as stops:
            stops.callback(temporal.stop)
            temporal.start()
            stops.callback(kafka.stop)
            kafka.start(fresh=True)
            agencies = [agency.id for agency in load_plan(settings.plan_path).agencies]
            await ensure_topics(settings, standard_topics(settings, agencies))
            await upgrade_async(settings.db_url)
            yield Scratch(settings, temporal, kafka)
    finally:
        if owned:
            shutil.rmtree(base, ignore_errors=True)
