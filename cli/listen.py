"""``tidegate agency listen``'s reader: print a topic's messages, riding out Kafka outages quietly.

aiokafka logs every failed connection attempt (hundreds of lines a minute while a broker is
down, and with no logging configured Python prints them all on stderr). A person watching an
agency's queue needs to know one thing: Kafka is not there, and the listener will carry on by
itself. So aiokafka's log records are taken in by :class:`_Outage` instead of printed, and the
listener says it in one line when Kafka is unreachable and one line when it is back:

    tidegate: Kafka at 127.0.0.1:19092 is not reachable (...); reconnecting quietly, Ctrl-C stops
    tidegate: Kafka at 127.0.0.1:19092 is back; listening to tidegate.tasks.drainage

Messages go to stdout, one line each; the banners go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Iterator

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

PROBE_SECONDS = 2.0
"""How often the listener checks whether an outage began or ended."""
RETRY_SECONDS = (1.0, 2.0, 5.0)
"""Waits between attempts to connect at start-up; the last value repeats."""


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


async def listen(bootstrap: str, topic: str, *, from_start: bool) -> None:
    """Print ``topic``'s messages as they arrive, until cancelled."""
    outage = _Outage()
    with outage.installed():
        consumer = await _connect(bootstrap, topic, from_start, outage)
        try:
            reading = asyncio.create_task(_print(consumer))
            await _watch(reading, bootstrap, topic, outage)
        finally:
            await consumer.stop()


async def _connect(
    bootstrap: str, topic: str, from_start: bool, outage: _Outage
) -> AIOKafkaConsumer:
    attempt = 0
    while True:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest" if from_start else "latest",
        )
        try:
            await consumer.start()
        except (KafkaError, OSError) as exc:
            await consumer.stop()
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
