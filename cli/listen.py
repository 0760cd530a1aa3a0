"""``tidegate agency listen``'s reader: print a topic's messages, riding out Kafka outages quietly.

aiokafka logs every failed connection attempt (hundreds of lines a minute while a broker is
down, and with no logging configured Python prints them all on stderr). A person watching an
agency's queue needs to know one thing: Kafka is not there, and the listener will carry on by
itself. So aiokafka's log records are taken in by :class:`_Outage` instead of printed, and the
listener says it in one line when Kafka is unreachable and one line when it is back:

    tidegate: Kafka at 127.0.0.1:19092 is not reachable (...); reconnecting quietly, Ctrl-C stops
    tidegate: Kafka at 127.0.0.1:19092 is back; listening to tidegate.tasks.drainage

Messages go to stdout, one line each; the banners go to stderr.

Kafka turning the listener away is no outage: a user it does not know (or a wrong password),
or a topic the user may not read (an agency's user listening to another agency's tasks), ends
the listener at once with :class:`Refused`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

PROBE_SECONDS = 2.0
"""How often the listener checks whether an outage began or ended."""
RETRY_SECONDS = (1.0, 2.0, 5.0)
"""Waits between attempts to connect at start-up; the last value repeats."""


class Refused(Exception):
    """Kafka will not let this user read the topic; the message says why, for a person."""


def say(line: str) -> None:
    """One banner line on stderr."""
    sys.stderr.write(f"tidegate: {line}\n")
    sys.stderr.flush()


class _Outage(logging.Handler):
    """Takes aiokafka's warnings and errors instead of printing them; remembers the last one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: float = 0.0
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.last = time.monotonic()
        self.reason = record.getMessage().splitlines()[0][:160]

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """aiokafka logs to this handler only, for the duration of the block."""
        logger = logging.getLogger("aiokafka")
        saved = logger.propagate, logger.level
        logger.addHandler(self)
        logger.propagate = False
        logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            logger.removeHandler(self)
            logger.propagate, logger.level = saved


async def listen(client: Mapping[str, Any], topic: str, *, from_start: bool) -> None:
    """Print ``topic``'s messages as they arrive, until cancelled.

    Args:
        client: :func:`config.kafka.client_options`: where Kafka is and who listens.

    Raises:
        Refused: Kafka does not accept the user's credentials, or the user may not read it.
    """
    outage = _Outage()
    bootstrap = str(client["bootstrap_servers"])
    with outage.installed():
        consumer = await _connect(client, topic, from_start, outage)
        try:
            reading = asyncio.create_task(_print(consumer))
            await _watch(reading, bootstrap, topic, outage)
        except _NOT_ALLOWED:  # refused after the start (metadata came in late): the same
            raise _not_allowed(client, topic) from None
        finally:
            await consumer.stop()


_NOT_ALLOWED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)


def _not_allowed(client: Mapping[str, Any], topic: str) -> Refused:
    user = client.get("sasl_plain_username") or "anyone"
    return Refused(f"Kafka at {client['bootstrap_servers']} does not let {user} read {topic}")


async def _connect(
    client: Mapping[str, Any], topic: str, from_start: bool, outage: _Outage
) -> AIOKafkaConsumer:
    attempt = 0
    bootstrap = client["bootstrap_servers"]
    user = client.get("sasl_plain_username")
    while True:
        consumer = AIOKafkaConsumer(
            topic, **client, auto_offset_reset="earliest" if from_start else "latest"
        )
        try:
            await consumer.start()
        except _NOT_ALLOWED:
            await consumer.stop()
            raise _not_allowed(client, topic) from None
        except (KafkaError, OSError) as exc:
            await consumer.stop()
            if "SaslAuthenticationFailed" in outage.reason:
                raise Refused(
                    f"Kafka at {bootstrap} refuses the credentials of user {user!r}: check "
                    "TIDEGATE_KAFKA_SASL_USERNAME and TIDEGATE_KAFKA_SASL_PASSWORD"
                ) from None
            if attempt == 0:
                say(
                    f"Kafka at {bootstrap} is not reachable ({exc.__class__.__name__}); "
                    "reconnecting quietly, Ctrl-C stops"
                )
            await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1
            continue
        back = "is back; " if attempt else ""
        say(f"Kafka at {bootstrap} {back}listening to {topic} (Ctrl-C stops)")
        outage.last = 0.0
        return consumer


async def _print(consumer: AIOKafkaConsumer) -> None:
    async for record in consumer:
        sys.stdout.write((record.value or b"").decode("utf-8", "replace") + "\n")
        sys.stdout.flush()


async def _watch(reading: asyncio.Task[None], bootstrap: str, topic: str, outage: _Outage) -> None:
    """Say when aiokafka starts failing, and when it has been quiet and Kafka answers again."""
    down = False
    while not reading.done():
        await asyncio.wait({reading}, timeout=PROBE_SECONDS)
        failing = time.monotonic() - outage.last < PROBE_SECONDS
        if failing and not down:
            down = True
            say(f"lost Kafka at {bootstrap} ({outage.reason}); reconnecting quietly, Ctrl-C stops")
        elif down and not failing and await _answers(bootstrap):
            down = False
            say(f"Kafka at {bootstrap} is back; listening to {topic}")
    reading.result()


async def _answers(bootstrap: str) -> bool:
    """Whether a bootstrap server accepts a connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        with contextlib.suppress(OSError, TimeoutError):
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 3)
            writer.close()
            return True
    return False
