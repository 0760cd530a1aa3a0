"""Shared, session-scoped fixtures for the real services tidegate's tests run against.

Every service starts lazily, the first time a test asks for it, so pure unit tests
(``pytest tests/plans``) start nothing. Ports are chosen free at session start, never the
defaults, so a test run can never collide with a ``make run`` on the same machine.

Fixtures:

``settings``          a :class:`config.settings.Settings` with a temp ``data_dir`` and free ports,
                      and a password of its own for tidegate's Kafka user.
``kafka_broker``      the session's real Kafka broker (:class:`devstack.kafka.KafkaBroker`),
                      secured as ``make run``'s (SASL/SCRAM, ACLs): every client of the suite
                      logs in (``**client_options(settings)``). A test may ``stop()`` and
                      ``start()`` it: storage is kept across restarts, and a broker left
                      stopped is restarted after that test.
``kafka_bootstrap``   its ``host:port``.
``kafka_agencies``    the plan's agencies, each a Kafka user of its own (``agency-<id>``, its
                      password in the broker's credentials file, so ``client_options(settings,
                      username=agency_user(id))`` logs in as it), with its ACLs on the
                      session's default topics; a test with topics of its own adds their ACLs
                      with ``ensure_access(its_settings, kafka_agencies)``.
``temporal_env``      ``WorkflowEnvironment.start_local`` (real dev server, tidegate's search
                      attributes registered) on ``settings.temporal_address``.
``time_skipping_env`` ``WorkflowEnvironment.start_time_skipping`` (Java test server), per test.
``database_url``      SQLAlchemy async URL, parametrized ``sqlite`` / ``postgres``; each use gets
                      a new database. PostgreSQL comes from ``TIDEGATE_TEST_POSTGRES_URL`` if
                      set, else from a private cluster (:mod:`tests.postgres`).
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings, load_settings
from devstack._proc import free_ports
from devstack.kafka import KafkaBroker
from devstack.temporal import SEARCH_ATTRIBUTE_KEYS
from plans.loader import load_plan
from runtime.ops import HQ_USER, agency_user, ensure_access, require_temporal
from tests import postgres

log = logging.getLogger(__name__)

POSTGRES_URL_ENV = "TIDEGATE_TEST_POSTGRES_URL"
"""An asyncpg URL of an existing database on a server where we may CREATE DATABASE."""

_BROKER = pytest.StashKey[KafkaBroker]()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for this test session: temp ``data_dir``, free non-default ports."""
    temporal, ui, kafka, controller, http = free_ports(5)
    return load_settings(
        data_dir=tmp_path_factory.mktemp("tidegate"),
        temporal_address=f"127.0.0.1:{temporal}",
        temporal_ui_port=ui,
        kafka_bootstrap=f"127.0.0.1:{kafka}",
        kafka_controller_port=controller,
        kafka_sasl_password=SecretStr(secrets.token_urlsafe(16)),
        http_port=http,
        topic_prefix="tidegate",
        drill_topic_prefix="tidegate.drill",
        database_url="",
    )


# -- Kafka ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kafka_broker(settings: Settings, pytestconfig: pytest.Config) -> Iterator[KafkaBroker]:
    """A real single-node KRaft broker, freshly formatted, for the whole session."""
    broker = KafkaBroker.from_settings(settings)
    broker.start(fresh=True)
    pytestconfig.stash[_BROKER] = broker
    try:
        yield broker
    finally:
        del pytestconfig.stash[_BROKER]
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """Bootstrap address of the session's broker."""
    return kafka_broker.bootstrap


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kafka_agencies(kafka_broker: KafkaBroker, settings: Settings) -> list[str]:
    """The plan's agencies as Kafka users with their ACLs, and the HQ system's user ``hq``, as
    ``make run`` sets them up."""
    agencies = [agency.id for agency in load_plan(settings.plan_path).agencies]
    users = [agency_user(agency) for agency in agencies] + [HQ_USER]
    passwords = kafka_broker.passwords(users)
    await ensure_access(settings, agencies, {user: passwords[user] for user in users})
    return agencies


@pytest.fixture(autouse=True)
def _restart_stopped_broker(pytestconfig: pytest.Config) -> Iterator[None]:
    """A test that stops the broker and fails before restarting it must not break the rest."""
    yield
    broker = pytestconfig.stash.get(_BROKER, None)
    if broker is not None and not broker.is_running():
        log.warning("a test left the Kafka broker stopped; restarting it with its data")
        broker.start(fresh=False)


# -- Temporal ------------------------------------------------------------------------------
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from the venv (never downloaded), with search attributes."""
    env = await WorkflowEnvironment.start_local(
        namespace=settings.temporal_namespace,
        ip="127.0.0.1",
        port=settings.temporal_port,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=require_temporal("temporal"),
        dev_server_startup_timeout=timedelta(seconds=30),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping test server from the venv (never downloaded), one per test.

    Its clock is global: workflows a test leaves behind (even terminated ones) were seen to
    stall the next test's time skipping, so no test shares one. Starting one takes ~0.2 s.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=require_temporal("temporal-test-server"),
        test_server_startup_timeout=timedelta(seconds=60),
    )
    try:
        yield env
    finally:
        await env.shutdown()


# -- databases -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a PostgreSQL database on a server the tests may create databases on.

    Without the server binaries this skips, except under CI (``CI`` set), where a silently
    skipped PostgreSQL half of the store tests would hide real incompatibilities.
    """
    external = os.environ.get(POSTGRES_URL_ENV)
    if external:
        yield external
        return
    if not postgres.available():
        reason = "PostgreSQL server binaries are not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    # Not under pytest's tmp dir: its base is mode 0700 and the postgres user must enter it.
    cluster = postgres.PostgresCluster(
        root_dir=Path(tempfile.mkdtemp(prefix="tidegate-pg-")), port=free_ports(1)[0]
    )
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.destroy()


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tidegate.db'}"
        return
    server: str = request.getfixturevalue("postgres_server_url")
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = await postgres.create_database(server, name)
    try:
        yield url
    finally:
        try:
            await postgres.drop_database(server, name)
        except Exception as exc:  # a leftover test database is harmless; don't mask results
            log.warning("could not drop test database %s: %s", name, exc)
