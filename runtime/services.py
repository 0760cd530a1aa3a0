"""The one object that builds tidegate's services: Temporal client, database, Kafka, plan.

The worker, ``tidegate serve``, the CLI commands, drills and the benchmark each enter one
:class:`Runtime` and ask it for what they need. Each service is built once, on first use, so a
command that only reads the database never connects to Kafka, and leaving the runtime closes
what was opened, in reverse order. An unreachable service is a :class:`ConfigError` saying what
to do, the same sentence whichever entry point met it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from aiokafka import AIOKafkaProducer
from sqlalchemy import event
from temporalio.client import Client

from activities.messaging import throttle_metadata_retries
from config.errors import ConfigError
from config.kafka import client_options, describe
from plans.loader import load_plan
from runtime.kafka_admin import login_problem
from store.db import create_engine, session_maker
from store.plans import PlanLibrary
from workflows.converter import DATA_CONVERTER
from workflows.tracking import AnswerRoute

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from config.settings import Settings
    from plans.model import Plan


T = TypeVar("T")


class Runtime:
    """Services built from one settings object, each once, on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: Client | None = None,
        plan: Plan | None = None,
        fast_sqlite: bool = False,
    ) -> None:
        """Args:
        settings: Where everything is.
        client: A Temporal client to use instead of connecting (a drill's time-skipping
            server); the runtime does not close it.
        plan: The plan to use instead of loading ``settings.plan_path``.
        fast_sqlite: Write-ahead logging and no fsync per commit on SQLite (drills write a
            storm's rows in seconds; see :func:`fast_sqlite_engine`).
        """
        self.settings = settings
        self._client = client
        self._plan = plan
        self._fast_sqlite = fast_sqlite
        self._producer: AIOKafkaProducer | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    @property
    def plan(self) -> Plan:
        """The response plan (loaded once)."""
        if self._plan is None:
            self._plan = load_plan(self.settings.plan_path)
        return self._plan

    @functools.cached_property
    def engine(self) -> AsyncEngine:
        """The database engine (disposed when the runtime closes)."""
        engine = create_engine(self.settings.db_url)
        if self._fast_sqlite and engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _fast_sqlite_pragmas)
        self._stack.push_async_callback(engine.dispose)
        return engine

    @functools.cached_property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The database session factory."""
        return session_maker(self.engine)

    @functools.cached_property
    def plans(self) -> PlanLibrary:
        """Plan versions by content hash: this process's plan, and any a response pinned."""
        return PlanLibrary(self.sessions, self.plan)

    async def temporal(self) -> Client:
        """The Temporal client; connects on first use."""
        if self._client is None:
            self._client = await connect_temporal(self.settings)
        return self._client

    async def producer(self) -> AIOKafkaProducer:
        """The idempotent Kafka producer; started on first use, stopped on close."""
        if self._producer is None:
            self._producer = await start_producer(self.settings)
            self._stack.push_async_callback(self._producer.stop)
        return self._producer

    async def answers(self, *, drill: bool = False) -> AnswerRoute:
        """Where agency answers coming in through this process go (live or drill tasks)."""
        return AnswerRoute(await self.temporal(), self.sessions, self.settings.task_queue, drill)


def run_with(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run ``work`` with a fresh runtime in a new event loop (the CLI's commands are sync)."""

    async def go() -> T:
        async with Runtime(settings) as rt:
            return await work(rt)

    return asyncio.run(go())


async def connect_temporal(settings: Settings) -> Client:
    """Connect to Temporal; an unreachable server is a ConfigError saying what to do."""
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=DATA_CONVERTER,
        )
    except Exception as exc:
        raise ConfigError(
            f"cannot reach Temporal at {settings.temporal_address} ({exc.__class__.__name__}); "
            "start the stack with `make run` or set TIDEGATE_TEMPORAL_ADDRESS"
        ) from None


async def start_producer(settings: Settings) -> AIOKafkaProducer:
    """Start an idempotent producer, or explain that the broker is unreachable or refuses us."""
    options = client_options(settings)
    producer = AIOKafkaProducer(**options, enable_idempotence=True, linger_ms=5)
    throttle_metadata_retries(producer)
    try:
        await producer.start()
    except Exception:
        await producer.stop()
        problem = await login_problem(options)
        raise ConfigError(f"Kafka at {describe(settings)} {problem}") from None
    return producer


def _fast_sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead logging (a lasting, safe property of the file: readers no longer block the
    writer) and no fsync at each commit of this process's connections (``synchronous=NORMAL``:
    a power cut may lose the last rows, never corrupt the file). A replayed storm writes a few
    thousand rows in seconds; with an fsync each, SQLite alone took longer than a drill's budget.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
