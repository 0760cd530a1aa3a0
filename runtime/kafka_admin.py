"""The two Kafka admin requests aiokafka 0.14 lacks, CreateAcls and AlterUserScramCredentials;
and :func:`login_problem`, which says why a client could not connect.

``AIOKafkaAdminClient`` has neither ``create_acls`` nor a way to create SCRAM users. Its
protocol package has the CreateAcls v1 request (one ACL per request in its builder; ours sends
them all at once) and the wire types for AlterUserScramCredentials v0 (KIP-554, a flexible
version only), so both are a few lines over :class:`aiokafka.client.AIOKafkaClient`. Kafka
4.x serves CreateAcls v1+ and AlterUserScramCredentials v0; a broker forwards both to the
controller.

Both are idempotent: creating an ACL that exists changes nothing, and setting a user's SCRAM
credential again replaces it (with a new salt).

The controller answers once a change is committed; the broker applies it a moment later (about
a second was measured on one node), and until then refuses what the change allows. So
:func:`create_acls` returns only once the broker describes every ACL asked for. The broker
applies metadata in log order, so ACLs created after SCRAM credentials (:mod:`runtime.ops`)
being visible means those users can log in too.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
    for_code,
)
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)


class ResourceType(enum.IntEnum):
    """Kafka's ``ResourceType`` codes (the ones tidegate grants on)."""

    TOPIC = 2
    GROUP = 3


class PatternType(enum.IntEnum):
    """Kafka's ``PatternType`` codes: the exact name, or every name that starts with it."""

    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    """Kafka's ``AclOperation`` codes (the ones tidegate grants)."""

    READ = 3
    WRITE = 4
    DESCRIBE = 8


_ANY = 1  # ResourceType / PatternType / AclOperation / AclPermissionType.ANY
_ALLOW = 3  # AclPermissionType.ALLOW
_ANY_HOST = "*"
_VISIBLE_POLL_S = 0.1
_SCRAM_ITERATIONS = 8192
"""Kafka accepts 4096 to 16384."""
_SCRAM_MECHANISMS = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}


class KafkaAdminError(Exception):
    """The broker refused some of the changes; the message names each and why."""


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: ``principal`` may do ``operation`` on the resource(s) named."""

    principal: str
    """``User:<name>``."""
    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation

    def __str__(self) -> str:
        where = f"{self.resource.name.lower()} {self.name}"
        if self.pattern is PatternType.PREFIXED:
            where += "*"
        return f"{self.principal} {self.operation.name} {where}"


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, acls: Sequence[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (a.resource, a.name, a.pattern, a.principal, _ANY_HOST, a.operation, _ALLOW)
                for a in self._acls
            ]
        )


class _AlterScramResponse_v0(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramRequest_v0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterScramResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScram(Request[_AlterScramRequest_v0]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, upsertions: list[tuple[Any, ...]]) -> None:
        self._upsertions = upsertions

    def build(self, request_struct_class: type[_AlterScramRequest_v0]) -> _AlterScramRequest_v0:
        return request_struct_class([], self._upsertions, {})


def scram_upsertion(user: str, password: str, mechanism: str) -> tuple[Any, ...]:
    """One user's SCRAM credential as Kafka stores it: salt and salted password, never the
    password (RFC 5802 ``Hi()``, which is PBKDF2-HMAC)."""
    try:
        code, digest = _SCRAM_MECHANISMS[mechanism]
    except KeyError:
        raise KafkaAdminError(f"{mechanism} is not a SCRAM mechanism") from None
    salt = os.urandom(32)
    salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, _SCRAM_ITERATIONS)
    return (user, code, _SCRAM_ITERATIONS, salt, salted, {})


async def create_acls(options: Mapping[str, Any], acls: Iterable[Acl]) -> None:
    """Create ``acls`` (those that exist are left as they are); return once the broker
    applies them all. Bound it with a timeout: it waits as long as they are not there.

    Args:
        options: :func:`config.kafka.client_options` of a user allowed to (ALTER on the cluster).

    Raises:
        KafkaAdminError: Some were refused, e.g. the cluster has no authorizer
            (``SecurityDisabledError``) or the user may not (``ClusterAuthorizationFailedError``).
    """
    wanted = sorted(set(acls))
    if not wanted:
        return
    client = AIOKafkaClient(**options)
    try:
        await client.bootstrap()
        node = client.get_random_node()
        if set(wanted) <= await _described(client, node):
            return
        response = await client.send(node, _CreateAcls(wanted))
        failed = [
            f"{acl}: {_error(code, message)}"
            for acl, (code, message) in zip(wanted, response.creation_responses, strict=True)
            if code != 0
        ]
        if failed:
            raise KafkaAdminError(f"ACLs refused: {'; '.join(failed)}")
        while True:  # the controller has them; wait for the broker to apply them
            await asyncio.sleep(_VISIBLE_POLL_S)
            if set(wanted) <= await _described(client, node):
                return
    finally:
        await client.close()


async def describe_acls(options: Mapping[str, Any]) -> set[Acl]:
    """Every ALLOW rule for any host the broker applies now (of the kinds :class:`Acl` has)."""
    client = AIOKafkaClient(**options)
    try:
        await client.bootstrap()
        return await _described(client, client.get_random_node())
    finally:
        await client.close()


async def _described(client: AIOKafkaClient, node: int) -> set[Acl]:
    request = DescribeAclsRequest(_ANY, None, _ANY, None, None, _ANY, _ANY)
    response = await client.send(node, request)
    if response.error_code != 0:
        raise KafkaAdminError(
            f"describing ACLs refused: {_error(response.error_code, response.error_message)}"
        )
    found: set[Acl] = set()
    for resource, name, pattern, entries in response.resources:
        for principal, host, operation, permission in entries:
            try:
                acl = Acl(
                    principal,
                    ResourceType(resource),
                    name,
                    PatternType(pattern),
                    Operation(operation),
                )
            except ValueError:  # a kind of rule tidegate never makes
                continue
            if host == _ANY_HOST and permission == _ALLOW:
                found.add(acl)
    return found


async def set_scram_credentials(
    options: Mapping[str, Any], passwords: Mapping[str, str], mechanism: str
) -> None:
    """Create or update the SCRAM credential of each user.

    Raises:
        KafkaAdminError: Some were refused, naming the user and why.
    """
    if not passwords:
        return
    upsertions = [scram_upsertion(u, p, mechanism) for u, p in sorted(passwords.items())]
    response = await _send(options, _AlterScram(upsertions))
    failed = [
        f"{user}: {_error(code, message)}"
        for user, code, message, _tags in response.results
        if code != 0
    ]
    if failed:
        raise KafkaAdminError(f"SCRAM credentials refused: {'; '.join(failed)}")


async def login_problem(options: Mapping[str, Any]) -> str:
    """Why a client with ``options`` could not start, as the end of a sentence that begins
    "Kafka at <bootstrap> ...": it refuses the credentials, or it is not reachable.

    aiokafka only says "Unable to bootstrap" either way; one connection to the first bootstrap
    server tells the two apart.
    """
    host, _, port = str(options["bootstrap_servers"]).split(",")[0].strip().rpartition(":")
    settings = {k: v for k, v in options.items() if k != "bootstrap_servers"}
    user = options.get("sasl_plain_username")
    try:
        conn = await create_conn(host, int(port), request_timeout_ms=10_000, **settings)
    except (SaslAuthenticationFailed, UnsupportedSaslMechanismError, IllegalSaslStateError) as e:
        return (
            f"refuses user {user!r} ({e.__class__.__name__}): check "
            "TIDEGATE_KAFKA_SASL_USERNAME, TIDEGATE_KAFKA_SASL_PASSWORD and "
            "TIDEGATE_KAFKA_SASL_MECHANISM"
        )
    except (KafkaError, OSError, TimeoutError) as exc:
        return (
            f"is not reachable ({exc.__class__.__name__}): start the stack with `make run`, "
            "or set TIDEGATE_KAFKA_BOOTSTRAP (and TIDEGATE_KAFKA_SECURITY_PROTOCOL)"
        )
    conn.close()
    return (
        "lets the client connect but not start (is TIDEGATE_KAFKA_SECURITY_PROTOCOL the cluster's?)"
    )


async def _send(options: Mapping[str, Any], request: Request[Any]) -> Any:
    client = AIOKafkaClient(**options)
    try:
        await client.bootstrap()
        return await client.send(client.get_random_node(), request)
    finally:
        await client.close()


def _error(code: int, message: str | None) -> str:
    name = for_code(code).__name__
    return f"{name} ({message})" if message else name
