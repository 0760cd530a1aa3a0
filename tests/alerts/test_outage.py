"""One classification for every intake: an outage behind it is retried, anything else refused."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NodeNotReadyError,
    RequestTimedOutError,
    UnknownTopicOrPartitionError,
)
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from alerts.outage import is_outage, refusal_reason


def rpc(status: RPCStatusCode) -> RPCError:
    return RPCError("rpc failed", status, b"")


def wrapped(inner: BaseException, outer: Exception) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as caught:
        return caught


def poison() -> UnicodeEncodeError:
    try:
        "x/\ud800".encode()
    except UnicodeEncodeError as exc:
        return exc
    raise AssertionError("a lone surrogate encoded")


OUTAGES = [
    ConnectionRefusedError(111, "connection refused"),
    ConnectionResetError(),
    OSError(113, "no route to host"),
    TimeoutError(),
    rpc(RPCStatusCode.UNAVAILABLE),
    rpc(RPCStatusCode.DEADLINE_EXCEEDED),
    rpc(RPCStatusCode.RESOURCE_EXHAUSTED),
    rpc(RPCStatusCode.ABORTED),
    rpc(RPCStatusCode.UNAUTHENTICATED),
    RPCTimeoutOrCancelledError("timed out"),
    OperationalError("SELECT 1", {}, Exception("database is locked")),
    InterfaceError("SELECT 1", {}, Exception("connection closed")),
    DisconnectionError("gone"),
    PoolTimeoutError("QueuePool limit reached"),
    DBAPIError("SELECT 1", {}, Exception("server closed"), connection_invalidated=True),
    KafkaConnectionError("no broker"),
    KafkaTimeoutError(),
    NodeNotReadyError(),
    RequestTimedOutError(),
    UnknownTopicOrPartitionError(),
    wrapped(ConnectionResetError(), RuntimeError("driver wrapped it")),
]
REFUSALS = [
    poison(),
    ValueError("bad value"),
    TypeError("not a str"),
    KeyError("task_id"),
    RecursionError(),
    rpc(RPCStatusCode.INVALID_ARGUMENT),
    rpc(RPCStatusCode.NOT_FOUND),
    rpc(RPCStatusCode.ALREADY_EXISTS),
    rpc(RPCStatusCode.FAILED_PRECONDITION),
    rpc(RPCStatusCode.INTERNAL),
    IntegrityError("INSERT", {}, Exception("NOT NULL constraint failed")),
    StatementError("could not encode", "SELECT", {}, poison()),
    DBAPIError("SELECT 1", {}, Exception("syntax"), connection_invalidated=False),
    MessageSizeTooLargeError(),
    wrapped(poison(), RuntimeError("while signalling")),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_outages_are_retried(exc: BaseException) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize("exc", REFUSALS, ids=lambda e: type(e).__name__)
def test_everything_else_about_a_message_is_a_refusal(exc: BaseException) -> None:
    assert not is_outage(exc)


def test_a_cause_chain_that_loops_ends() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__cause__, second.__cause__ = second, first
    assert not is_outage(first)


def test_the_refusal_reason_names_the_error_and_is_safe_to_store() -> None:
    reason = refusal_reason(poison(), stage="delivered")
    assert reason.startswith("cannot be delivered (UnicodeEncodeError: 'utf-8' codec")
    reason.encode("utf-8")
    assert "\x00" not in refusal_reason(ValueError("nul \x00 here"))
    assert len(refusal_reason(ValueError("x" * 10_000))) <= 500
