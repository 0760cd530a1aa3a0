"""Helpers for end-to-end tests: a real worker in-process, the real CLI in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

import worker
from config.kafka import client_options
from config.settings import ROOT, Settings
from plans.loader import load_plan
from runtime.ops import ensure_topics, standard_topics
from store.migrate import upgrade_async


def env_for(settings: Settings) -> dict[str, str]:
    """Environment that points a ``tidegate`` subprocess at the test services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE_")}
    env |= {
        "TIDEGATE_TEMPORAL_ADDRESS": settings.temporal_address,
        "TIDEGATE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TIDEGATE_KAFKA_SASL_PASSWORD": settings.kafka_sasl_password.get_secret_value(),
        "TIDEGATE_DATABASE_URL": settings.db_url,
        "TIDEGATE_DATA_DIR": str(settings.data_dir),
        "TIDEGATE_REGION": settings.region,
        "TIDEGATE_TASK_QUEUE": settings.task_queue,
        "TIDEGATE_PLAN_PATH": str(settings.plan_path),
        "TIDEGATE_DECISION_WAIT_SECONDS": str(settings.decision_wait_seconds),
    }
    return env


def tidegate(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``tidegate`` entry point against the test services."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env_for(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run_tidegate(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """:func:`tidegate` in a thread, for tests whose worker runs in this event loop.

    ``alert issue`` waits for the response's decision and ``status`` asks the workflows: run
    in the loop's own thread, they would wait for a worker they keep from running.
    """
    return await asyncio.to_thread(tidegate, settings, *args)


async def prepare(settings: Settings) -> None:
    """Schema and topics, as ``make run`` prepares them."""
    await upgrade_async(settings.db_url)
    agencies = [agency.id for agency in load_plan(settings.plan_path).agencies]
    await ensure_topics(settings, standard_topics(settings, agencies))


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[None]:
    """The production worker (``worker.run``) in this event loop until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(settings, stop))
    try:
        await asyncio.sleep(0.5)
        if task.done():
            task.result()
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


async def collect(
    settings: Settings,
    topics: list[str],
    accept: Callable[[dict[str, Any]], bool],
    count: int,
    within: float = 60.0,
    *,
    decode: bool = True,
) -> list[dict[str, Any]]:
    """Read messages from ``topics`` until ``count`` of them pass ``accept``.

    With ``decode`` the JSON body is returned; without it a dict of ``value`` (bytes) and
    ``headers`` (name to decoded text), for dead letters whose body may not be JSON.
    """
    consumer = AIOKafkaConsumer(
        *topics, **client_options(settings), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    try:
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    body = (
                        json.loads(record.value or b"{}")
                        if decode
                        else {
                            "value": record.value,
                            "headers": {k: v.decode() for k, v in record.headers},
                        }
                    )
                    if accept(body):
                        found.append(body)
    finally:
        await consumer.stop()
    return found


async def eventually(check: Callable[[], Any], within: float = 60.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.3)
