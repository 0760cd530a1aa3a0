"""Who may do what on Kafka (issue #12), against the session's real, secured broker.

Every agency is a Kafka user of its own, ``agency-<id>``: it reads its own task topic and writes
its own events topic, and nothing else. tidegate's user reads every agency's events topic, and
the topic says which agency answers: an answer for another agency's task is dead-lettered with
the reason. Nobody gets in without a known user and its password.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr
from sqlalchemy import select

from config.errors import ConfigError
from config.kafka import client_options
from config.settings import ROOT, Settings
from devstack._proc import free_ports
from devstack.kafka import KafkaBroker
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from runtime.kafka_admin import describe_acls, set_scram_credentials
from runtime.ops import (
    OpsError,
    agency_acls,
    agency_group_prefix,
    agency_user,
    ensure_access,
    ensure_topics,
    events_topic,
    standard_topics,
)
from runtime.services import start_producer
from store.db import create_engine, session_maker
from store.models import RejectionRecord, TaskRecord
from tests.e2e.harness import collect, env_for, eventually, prepare, running_worker
from tests.e2e.intake import ago
from workflows.starters import submit

pytestmark = pytest.mark.e2e

PLAN = load_plan()
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""Who may write where is Kafka's business: one database is enough."""


@pytest.fixture
async def isolated(settings: Settings, kafka_agencies: list[str]) -> AsyncIterator[Settings]:
    """Topics of the test's own (prefix ``acl<tag>``), each agency's ACLs on them, and one
    task already waiting on drainage's and grid's task topics."""
    tag = uuid.uuid4().hex[:8]
    mine = settings.model_copy(
        update={"topic_prefix": f"acl{tag}", "drill_topic_prefix": f"acl{tag}.drill"}
    )
    await ensure_topics(mine, standard_topics(mine, kafka_agencies))
    await ensure_access(mine, kafka_agencies)
    before = await describe_acls(client_options(mine))
    assert set(agency_acls(mine, kafka_agencies)) <= before
    await ensure_access(mine, kafka_agencies)  # idempotent: nothing changes, nothing fails
    assert await describe_acls(client_options(mine)) == before
    producer = AIOKafkaProducer(**client_options(mine))
    await producer.start()
    try:
        for agency in ("drainage", "grid"):
            for drill in (False, True):
                topic = mine.topic(f"tasks.{agency}", drill=drill)
                await producer.send_and_wait(topic, f"a task for {agency}".encode())
    finally:
        await producer.stop()
    yield mine
    admin = AIOKafkaAdminClient(**client_options(mine))
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(f"acl{tag}.")]
        await admin.delete_topics(names)
    finally:
        await admin.close()


def as_agency(settings: Settings, agency: str) -> dict[str, Any]:
    return client_options(settings, username=agency_user(agency))


async def read_one(options: dict[str, Any], topic: str, group: str | None = None) -> bytes:
    consumer = AIOKafkaConsumer(
        topic, **options, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        await consumer.start()
        record = await consumer.getone()
        return record.value or b""
    finally:
        await consumer.stop()


async def write_one(options: dict[str, Any], topic: str) -> None:
    producer = AIOKafkaProducer(**options, enable_idempotence=True)
    try:
        await producer.start()
        await producer.send_and_wait(topic, b'{"task_id": "x/y", "kind": "acknowledge"}')
    finally:
        await producer.stop()


@pytest.mark.parametrize("drill", [False, True], ids=["live", "drill"])
async def test_an_agency_reads_its_own_tasks_and_writes_its_own_answers_only(
    isolated: Settings, drill: bool
) -> None:
    s, drainage = isolated, as_agency(isolated, "drainage")

    own = s.topic("tasks.drainage", drill=drill)
    assert await read_one(drainage, own) == b"a task for drainage"
    group = f"{agency_group_prefix('drainage')}desk"
    assert await read_one(drainage, s.topic("tasks.drainage", drill=drill), group) != b""
    await write_one(drainage, events_topic(s, "drainage", drill=drill))

    with pytest.raises(TopicAuthorizationFailedError):
        await read_one(drainage, s.topic("tasks.grid", drill=drill))
    with pytest.raises(TopicAuthorizationFailedError):
        await write_one(drainage, events_topic(s, "grid", drill=drill))
    with pytest.raises(TopicAuthorizationFailedError):  # no forged tasks for itself either
        await write_one(drainage, s.topic("tasks.drainage", drill=drill))
    with pytest.raises(TopicAuthorizationFailedError):  # nor anyone's answers, nor warnings
        await read_one(drainage, events_topic(s, "grid", drill=drill))
    with pytest.raises(TopicAuthorizationFailedError):
        await read_one(drainage, s.topic("alerts", drill=drill))
    # Its own consumer groups only: not tidegate's, not another agency's.
    for group in (f"{s.consumer_group}.events", f"{agency_group_prefix('grid')}desk"):
        with pytest.raises(GroupAuthorizationFailedError):
            await read_one(drainage, s.topic("tasks.drainage", drill=drill), group)


async def test_an_agency_cannot_create_topics_or_grant_itself_rights(isolated: Settings) -> None:
    admin = AIOKafkaAdminClient(**as_agency(isolated, "drainage"))
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(isolated.topic("mine"), 1, 1)])
        assert [entry[1] for entry in response.topic_errors] == [
            TopicAuthorizationFailedError.errno
        ]
    finally:
        await admin.close()
    as_drainage = isolated.model_copy(
        update={
            "kafka_sasl_username": agency_user("drainage"),
            "kafka_sasl_password": SecretStr(
                as_agency(isolated, "drainage")["sasl_plain_password"]
            ),
        }
    )
    with pytest.raises(OpsError, match="ClusterAuthorizationFailed"):
        await ensure_access(as_drainage, ["grid"])


async def test_nobody_gets_in_without_a_known_user_and_its_password(
    isolated: Settings,
) -> None:
    topic = isolated.topic("tasks.drainage")
    plaintext = isolated.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    wrong = isolated.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
    stranger = {**client_options(isolated), "sasl_plain_username": "agency-nobody"}
    for options in (client_options(plaintext), client_options(wrong), stranger):
        consumer = AIOKafkaConsumer(topic, **options, request_timeout_ms=5000)
        with pytest.raises(KafkaConnectionError):
            await consumer.start()
        await consumer.stop()
    with pytest.raises(ConfigError, match="no password for Kafka user 'agency-nobody'"):
        client_options(isolated, username="agency-nobody")


async def test_tidegate_says_why_kafka_will_not_have_it(
    settings: Settings, kafka_broker: KafkaBroker
) -> None:
    wrong = settings.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
    with pytest.raises(ConfigError, match=r"refuses user 'tidegate' \(SaslAuthenticationFailed\)"):
        await start_producer(wrong)
    plaintext = settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    with pytest.raises(ConfigError, match="is TIDEGATE_KAFKA_SECURITY_PROTOCOL the cluster's"):
        await start_producer(plaintext)
    away = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_ports(1)[0]}"})
    with pytest.raises(ConfigError, match="is not reachable"):
        await start_producer(away)


@SQLITE_ONLY
async def test_an_answer_on_one_agencys_topic_for_anothers_task_is_dead_lettered(
    e2e_settings: Settings, temporal_env: Any, kafka_agencies: list[str]
) -> None:
    """Drainage's own system (its Kafka user) answers its task, then tries grid's."""
    settings = e2e_settings
    await prepare(settings)
    await ensure_access(settings, kafka_agencies)
    expected = respond([ActiveWarning(Hazard.FLOOD, Level.BLUE, ("pudong",))], PLAN).tasks
    agencies = sorted({t.agency for t in expected})
    assert {"drainage", "grid"} <= set(agencies)
    drainage = as_agency(settings, "drainage")
    engine = create_engine(settings.db_url)
    sessions = session_maker(engine)
    flood = Alert(
        id="acl-flood",
        sender="test",
        sent=ago(),
        status=Status.ACTUAL,
        kind=Kind.ALERT,
        hazard=Hazard.FLOOD,
        level=Level.BLUE,
        areas=("pudong",),
    )
    try:
        async with running_worker(settings):
            await submit(temporal_env.client, settings.task_queue, settings.region, PLAN, flood)
            tasks = await collect(
                settings,
                [settings.topic(f"tasks.{a}") for a in agencies],
                lambda m: m["type"] == "task",
                count=len(expected),
            )
            own = next(m["task_id"] for m in tasks if m["agency"] == "drainage")
            other = next(m["task_id"] for m in tasks if m["agency"] == "grid")
            producer = AIOKafkaProducer(**drainage)
            await producer.start()
            try:
                for task_id in (other, own):
                    body = {"task_id": task_id, "kind": "acknowledge", "by": "drainage desk"}
                    await producer.send_and_wait(
                        events_topic(settings, "drainage"), json.dumps(body).encode()
                    )
            finally:
                await producer.stop()

            async def states() -> dict[str, str] | None:
                async with sessions() as session:
                    rows = (await session.scalars(select(TaskRecord))).all()
                found = {r.id: r.state for r in rows if r.id in (own, other)}
                return found if found.get(own) == "acknowledged" else None

            assert await eventually(states) == {own: "acknowledged", other: "dispatched"}
            (dead,) = await collect(
                settings, [settings.topic("tasks.events.dlq")], lambda m: True, 1, decode=False
            )
            reason = (
                f"task_id: {other!r} is a task of agency 'grid'; 'drainage' may answer its own "
                "tasks only"
            )
            assert dead["headers"]["reason"] == reason
            assert dead["headers"]["source"].startswith(f"{events_topic(settings, 'drainage')}:")
            async with sessions() as session:
                (row,) = (await session.scalars(select(RejectionRecord))).all()
            channel = f"kafka:{events_topic(settings, 'drainage')}"
            assert (row.channel, row.reason) == (channel, reason)
    finally:
        await engine.dispose()


def cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env_for(settings)
        | {
            "TIDEGATE_TOPIC_PREFIX": settings.topic_prefix,
            "TIDEGATE_DRILL_TOPIC_PREFIX": settings.drill_topic_prefix,
        }
        | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_tidegate_topics_creates_the_topics_and_the_agencies_acls(
    settings: Settings, kafka_agencies: list[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    mine = settings.model_copy(
        update={"topic_prefix": f"cli{tag}", "drill_topic_prefix": f"cli{tag}.drill"}
    )
    result = await asyncio.to_thread(cli, mine, "topics")
    assert result.returncode == 0, result.stderr
    assert f"ACLs present for {len(kafka_agencies)} agency users: agency-" in result.stdout
    assert set(agency_acls(mine, kafka_agencies)) <= await describe_acls(client_options(mine))
    admin = AIOKafkaAdminClient(**client_options(mine))
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(f"cli{tag}.")]
        assert set(names) == set(standard_topics(mine, kafka_agencies))
        await admin.delete_topics(names)
    finally:
        await admin.close()

    refused = await asyncio.to_thread(cli, mine, "topics", TIDEGATE_KAFKA_SASL_PASSWORD="wrong")
    assert refused.returncode == 2
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"tidegate: Kafka at {mine.kafka_bootstrap} as tidegate ")
    assert "refuses user 'tidegate' (SaslAuthenticationFailed)" in last
    assert "Traceback" not in refused.stderr


async def test_agency_listen_as_an_agency_is_refused_another_agencys_tasks(
    settings: Settings, kafka_agencies: list[str]
) -> None:
    drainage = as_agency(settings, "drainage")
    as_drainage = {
        "TIDEGATE_KAFKA_SASL_USERNAME": drainage["sasl_plain_username"],
        "TIDEGATE_KAFKA_SASL_PASSWORD": drainage["sasl_plain_password"],
    }
    result = await asyncio.to_thread(cli, settings, "agency", "listen", "grid", **as_drainage)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"tidegate: Kafka at {settings.kafka_bootstrap} does not let agency-drainage read "
        f"{settings.topic('tasks.grid')}"
    )
    as_drainage["TIDEGATE_KAFKA_SASL_PASSWORD"] = "not-the-password"
    result = await asyncio.to_thread(cli, settings, "agency", "listen", "drainage", **as_drainage)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"tidegate: Kafka at {settings.kafka_bootstrap} refuses the credentials of user "
        "'agency-drainage': check TIDEGATE_KAFKA_SASL_USERNAME and TIDEGATE_KAFKA_SASL_PASSWORD"
    ]


@SQLITE_ONLY
async def test_the_worker_runs_as_a_user_that_is_no_super_user_with_the_documented_acls(
    e2e_settings: Settings, temporal_env: Any, kafka_agencies: list[str]
) -> None:
    """docs/kafka-security.md: topics and ACLs made by an admin, the worker's user limited to
    ``worker_acls``: tasks go out, an agency's answer comes in, a refusal is dead-lettered."""
    admin = e2e_settings
    worker_user, password = f"worker-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await prepare(admin)
    await set_scram_credentials(
        client_options(admin), {worker_user: password}, admin.kafka_sasl_mechanism
    )
    await ensure_access(admin, kafka_agencies, worker_user=worker_user)
    settings = admin.model_copy(
        update={"kafka_sasl_username": worker_user, "kafka_sasl_password": SecretStr(password)}
    )
    expected = respond([ActiveWarning(Hazard.FLOOD, Level.BLUE, ("pudong",))], PLAN).tasks
    engine = create_engine(settings.db_url)
    sessions = session_maker(engine)
    try:
        async with running_worker(settings):
            flood = Alert(
                id="least-privilege",
                sender="test",
                sent=ago(),
                status=Status.ACTUAL,
                kind=Kind.ALERT,
                hazard=Hazard.FLOOD,
                level=Level.BLUE,
                areas=("pudong",),
            )
            await submit(temporal_env.client, settings.task_queue, settings.region, PLAN, flood)
            tasks = await collect(
                admin,
                [settings.topic(f"tasks.{a}") for a in sorted({t.agency for t in expected})],
                lambda m: m["type"] == "task",
                count=len(expected),
            )
            own = next(m["task_id"] for m in tasks if m["agency"] == "drainage")
            producer = AIOKafkaProducer(**as_agency(settings, "drainage"))
            await producer.start()
            try:
                topic = events_topic(settings, "drainage")
                await producer.send_and_wait(topic, b"not json")
                body = {"task_id": own, "kind": "acknowledge"}
                await producer.send_and_wait(topic, json.dumps(body).encode())
            finally:
                await producer.stop()

            async def acknowledged() -> bool:
                async with sessions() as session:
                    row = await session.get(TaskRecord, own)
                return row is not None and row.state == "acknowledged"

            assert await eventually(acknowledged)
            (dead,) = await collect(
                admin, [settings.topic("tasks.events.dlq")], lambda m: True, 1, decode=False
            )
            assert dead["value"] == b"not json"
    finally:
        await engine.dispose()
