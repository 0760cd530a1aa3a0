"""Is a failure an outage behind intake (retry it) or a problem with the message (refuse it)?

Every intake that hands input on (the Kafka consumers of warnings and agency events, the HTTP
API) asks :func:`is_outage` when handling a message raised something other than a refusal:

* **Outage**: Temporal, the database or Kafka is unreachable, overloaded or timing out. The
  message is fine; the path is not. Kafka intakes keep the message (the offset is not
  committed) and retry it with backoff; HTTP answers 503 so the caller retries.
* **Anything else** is about the message: a value that a layer behind intake cannot carry
  (a lone surrogate in a workflow id, a payload the server rejects as invalid), or a bug the
  message triggers. Retrying cannot help and would hold up every later message, so the
  message is refused with :func:`refusal_reason`: dead-lettered and recorded.

What counts as an outage:

* OS-level network errors (:class:`OSError`, hence :class:`ConnectionError`) and timeouts
  (:class:`TimeoutError`, which ``asyncio.TimeoutError`` is);
* Temporal :class:`~temporalio.service.RPCError` with a status in :data:`TEMPORAL_OUTAGE`, and
  the client's RPC timeout/cancellation error;
* SQLAlchemy's connection-level errors (:data:`DATABASE_OUTAGE`), and any DBAPI error whose
  connection was invalidated;
* aiokafka errors that aiokafka marks retriable (no broker, no leader, request timed out ...)
  and :class:`~aiokafka.errors.KafkaTimeoutError`.

The exception's cause and context chain is searched too, so an outage wrapped by a library
(an ``OSError`` under a driver's own exception type) is still an outage.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from alerts.errors import printable

TEMPORAL_OUTAGE = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
        # Not about the message either: every message would fail the same way until the
        # credentials are fixed, so dead-lettering them all would be the wrong answer.
        RPCStatusCode.UNAUTHENTICATED,
        RPCStatusCode.PERMISSION_DENIED,
    }
)
"""Temporal statuses that say "the server cannot take anything right now"."""

DATABASE_OUTAGE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
)
"""SQLAlchemy errors about the connection, not the statement (SQLite's "database is locked"
and a missing table before ``tidegate db upgrade`` are OperationalErrors too: both clear up
without the message changing)."""

MAX_CHAIN = 16
"""How far down ``__cause__``/``__context__`` to look (chains can, in principle, loop)."""


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or anything in its cause chain) means a downstream service is down."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(current))
        if _is_outage_itself(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, OSError | RPCTimeoutOrCancelledError | KafkaTimeoutError):
        return True
    if isinstance(exc, RPCError):
        return exc.status in TEMPORAL_OUTAGE
    if isinstance(exc, DATABASE_OUTAGE):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    return False


def refusal_reason(exc: BaseException, *, stage: str = "handled") -> str:
    """The dead-letter reason for a failure that is not an outage.

    Args:
        exc: What handling the message raised.
        stage: What could not be done with the message (``handled``, ``delivered`` ...).

    Returns:
        One safe line naming the exception type and its message, e.g.
        ``cannot be delivered (UnicodeEncodeError: 'utf-8' codec can't encode ...)``.
    """
    detail = str(exc) or type(exc).__name__
    return printable(f"cannot be {stage} ({type(exc).__name__}: {detail})")
