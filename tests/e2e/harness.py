"""Helpers for end-to-end tests: a real worker in-process, the real CLI in a subprocess, and
the one place tests get credentials (:func:`token_of`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

import worker
from access import accounts
from access.audit import Actor
from access.matrix import Role
from config.kafka import client_options
from config.settings import ROOT, Settings
from plans.loader import load_plan
from runtime.ops import ensure_topics, standard_topics
from store.db import create_engine, session_maker
from store.migrate import upgrade_async

DEV_TOKEN: str = Settings.model_fields["api_token"].default
"""The development token: a duty officer, honoured with this machine's services only."""


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


async def token_of(
    settings: Settings,
    role: Role,
    *,
    agency: str | None = None,
    district: str | None = None,
    name: str | None = None,
) -> str:
    """An API token of a new account with ``role`` (bound to ``agency`` or ``district``) in
    the test's database, as an admin would create it: the one place e2e tests get credentials
    for ``tidegate ... --token`` and ``Authorization: Bearer``."""
    plan = load_plan(settings.plan_path)
    catalogue = accounts.Catalogue(
        frozenset(a.id for a in plan.agencies), frozenset(d.id for d in plan.districts)
    )
    name = name or f"{role.value}-{agency or district or 'city'}-{uuid.uuid4().hex[:6]}"
    admin = Actor("test", "operator")
    engine = create_engine(settings.db_url)
    try:
        sessions = session_maker(engine)
        await accounts.add_account(
            sessions, name, role, catalogue=catalogue, actor=admin, source="test",
            agency=agency, district=district,
        )  # fmt: skip
        token, _ = await accounts.create_token(sessions, name, actor=admin, source="test")
        return token
    finally:
        await engine.dispose()


def tidegate(
    settings: Settings, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``tidegate`` entry point against the test services, with ``token`` as
    ``TIDEGATE_TOKEN`` (:func:`token_of`, or :data:`DEV_TOKEN`)."""
    env = env_for(settings) | ({"TIDEGATE_TOKEN": token} if token is not None else {})
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run_tidegate(
    settings: Settings, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """:func:`tidegate` in a thread, for tests whose worker runs in this event loop.

    ``alert issue`` waits for the response's decision and ``status`` asks the workflows: run
    in the loop's own thread, they would wait for a worker they keep from running.
    """
    return await asyncio.to_thread(functools.partial(tidegate, settings, *args, token=token))


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
