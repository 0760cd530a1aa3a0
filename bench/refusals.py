"""Refusal benchmark: how fast the Kafka intakes get through a burst of bad input.

Three bursts, each of ``--count`` messages (default 2,000) on one partition (same key), sent
to the production worker (``python worker.py`` in a subprocess) while it is idle:

- **alerts**: malformed warnings of five kinds (not JSON, a missing field, an unknown area,
  UTF-16, XXE), then one valid warning behind them. Measured: refusals per second (the last
  dead letter consumed) and how long the valid warning waited (its row in ``warnings``),
  beside how long a lone valid warning takes;
- **events, malformed**: agency events the parser refuses (bad kind, not JSON, no task id);
- **events, unknown task**: well-formed agency events for tasks that do not exist, refused by
  Temporal (``NOT_FOUND``): one RPC each.

Everything runs on a scratch stack (:mod:`devstack.scratch`: Temporal dev server in memory,
Kafka, SQLite on free ports in a temp directory). Results go to stdout and
``bench/results/refusals.json``. It is a measurement, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import select

from bench.dispatch import start_worker
from config.kafka import client_options
from config.settings import ROOT
from devstack.scratch import scratch_stack
from runtime.ops import events_topic
from runtime.services import Runtime
from store.models import WarningRecord

log = logging.getLogger("bench")

RESULTS = ROOT / "bench" / "results"
KEY = b"bench"
SHANGHAI = timezone(timedelta(hours=8))
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&e;</alert>'
)


def warning(alert_id: str, **fields: Any) -> bytes:
    """A current, valid JSON warning (blue tide in Jinshan unless ``fields`` say otherwise)."""
    body = {
        "id": alert_id,
        "sender": "bench",
        "sent": datetime.now(UTC).astimezone(SHANGHAI).replace(microsecond=0).isoformat(),
        "status": "actual",
        "kind": "alert",
        "hazard": "tide",
        "level": "blue",
        "areas": ["金山区"],
        "headline": f"warning {alert_id}",
    }
    return json.dumps(body | fields, ensure_ascii=False).encode()


def bad_alerts(count: int) -> list[bytes]:
    kinds: list[Callable[[int], bytes]] = [
        lambda i: f"not a warning {i}".encode(),
        lambda i: json.dumps({"id": f"half-{i}"}).encode(),
        lambda i: warning(f"mars-{i}", areas=["火星"]),
        lambda i: f"预警 {i}".encode("utf-16"),
        lambda i: XXE,
    ]
    return [kinds[i % len(kinds)](i) for i in range(count)]


def bad_events(count: int) -> list[bytes]:
    kinds: list[Callable[[int], bytes]] = [
        lambda i: json.dumps({"task_id": f"r/t{i}", "kind": "celebrate"}).encode(),
        lambda i: b"\xff not json",
        lambda i: json.dumps({"kind": "acknowledge", "by": f"desk {i}"}).encode(),
    ]
    return [kinds[i % len(kinds)](i) for i in range(count)]


def unknown_task_events(count: int, tag: str) -> list[bytes]:
    return [
        json.dumps({"task_id": f"response-{tag}/t{i}@nowhere", "kind": "acknowledge"}).encode()
        for i in range(count)
    ]


@dataclass
class Burst:
    """One measured burst; times in seconds from the first message sent."""

    name: str
    refused: int
    refusals_s: float
    refusals_per_s: float
    good_waited_s: float | None = None
    lone_good_s: float | None = None


class Bench:
    def __init__(self, rt: Runtime) -> None:
        self.s = rt.settings
        self.producer = AIOKafkaProducer(**client_options(self.s), linger_ms=5)
        self.sessions = rt.sessions

    async def send(self, topic: str, payloads: list[bytes]) -> None:
        for payload in payloads:
            await self.producer.send(topic, payload, key=KEY)
        await self.producer.flush()

    async def dead_letters(self, dlq: str, count: int, started: float) -> float:
        """Seconds from ``started`` until ``count`` more dead letters have been consumed."""
        consumer = AIOKafkaConsumer(dlq, **client_options(self.s), auto_offset_reset="earliest")
        await consumer.start()
        seen = 0
        try:
            while seen < count:
                batch = await consumer.getmany(timeout_ms=200)
                seen += sum(len(records) for records in batch.values())
        finally:
            await consumer.stop()
        return time.perf_counter() - started

    async def recorded(self, alert_id: str, started: float) -> float:
        """Seconds from ``started`` until the warning's row exists."""
        while True:
            async with self.sessions() as session:
                found = await session.scalar(
                    select(WarningRecord.id).where(WarningRecord.id == alert_id)
                )
            if found:
                return time.perf_counter() - started
            await asyncio.sleep(0.02)

    async def lone_warning(self) -> float:
        alert_id = f"lone-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        await self.send(self.s.topic("alerts"), [warning(alert_id)])
        return await self.recorded(alert_id, started)

    async def alerts(self, count: int, already_dead: int) -> Burst:
        good = f"good-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        waiting = asyncio.create_task(self.recorded(good, started))
        await self.send(self.s.topic("alerts"), [*bad_alerts(count), warning(good)])
        took = await self.dead_letters(self.s.topic("alerts.dlq"), already_dead + count, started)
        return Burst("alerts", count, took, count / took, good_waited_s=await waiting)

    async def events(self, name: str, payloads: list[bytes], already_dead: int) -> Burst:
        started = time.perf_counter()
        await self.send(events_topic(self.s, "drainage"), payloads)
        dlq = self.s.topic("tasks.events.dlq")
        took = await self.dead_letters(dlq, already_dead + len(payloads), started)
        return Burst(name, len(payloads), took, len(payloads) / took)


async def benchmark(count: int) -> dict[str, Any]:
    async with scratch_stack() as scratch, Runtime(scratch.settings) as rt:
        settings = scratch.settings
        client = await rt.temporal()
        popen = await start_worker(settings, client, settings.data_dir / "worker.log")
        bench = Bench(rt)
        await bench.producer.start()
        try:
            await bench.lone_warning()  # warm-up: the consumer has joined its group
            lone = min([await bench.lone_warning() for _ in range(3)])
            alerts = await bench.alerts(count, 0)
            alerts.lone_good_s = lone
            malformed = await bench.events("events, malformed", bad_events(count), 0)
            unknown = await bench.events(
                "events, unknown task", unknown_task_events(count, uuid.uuid4().hex[:6]), count
            )
        finally:
            await bench.producer.stop()
            popen.terminate()
            popen.wait(30)
    bursts = [alerts, malformed, unknown]
    return {
        "count": count,
        "bursts": [asdict(b) for b in bursts],
        "machine": {"cpus": _cpus(), "load_average": _load(), "python": platform.python_version()},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def report(result: dict[str, Any]) -> str:
    lines = [f"{'burst':<22} {'refused':>8} {'seconds':>8} {'refusals/s':>11} {'good waited':>12}"]
    for b in result["bursts"]:
        waited = b["good_waited_s"]
        good = "" if waited is None else f"{waited:.2f} s (lone {b['lone_good_s']:.2f} s)"
        lines.append(
            f"{b['name']:<22} {b['refused']:>8} {b['refusals_s']:>8.2f} "
            f"{b['refusals_per_s']:>11.0f} {good:>12}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="bad messages per burst")
    parser.add_argument("--out", type=Path, default=RESULTS / "refusals.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = asyncio.run(benchmark(args.count))
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
