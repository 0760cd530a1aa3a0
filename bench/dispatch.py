"""Dispatch benchmark (``make bench``): how fast a citywide storm's tasks reach the agencies.

Scenario: red typhoon (wind), red rainstorm and red (high) tide warnings for the whole city,
accepted back to back; the plan makes 516 tasks across the 16 districts and the city's
agencies. Each run uses a fresh region, so a new response starts every time.

What one ``make bench`` measures, all on this machine in one go:

- **latency**: from the first warning being accepted (``submit()`` returned: the
  signal-with-start is durable) to the last of the 516 task messages consumed from Kafka;
  p50 and p99 over ``--runs`` runs (after ``--warmup`` runs that are not counted);
- **tasks/s**: tasks divided by the p50 latency;
- **worker peak RSS**: the worker is ``python worker.py`` in a subprocess, sampled with psutil
  and read from the kernel's high-water mark (``VmHWM``);
- **floor**: per run, producing the very same 516 messages (same topics, keys and bytes)
  straight with aiokafka until all are consumed, plus one empty-workflow round trip
  (start, run, result) on the same Temporal server.

Everything it needs is started here on free ports in a temp directory (Temporal dev server
in memory, Kafka, SQLite; :mod:`devstack.scratch`); nothing touches ``make run``'s state.
Results go to a table on stdout and to ``bench/results/dispatch.json``.

``--profile FILE`` samples the worker with py-spy (``pip install py-spy``; not a project
dependency) during the measured runs: a flame graph (``.svg``), collapsed stacks (``.txt``) or
a speedscope profile (``.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import SecretStr
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Worker

from bench.floor import EmptyWorkflow
from config.kafka import client_options
from config.settings import ROOT, Settings
from devstack import _proc
from devstack.scratch import scratch_stack
from plans.lifecycle import task_workflow_id
from plans.loader import load_plan
from plans.model import CITYWIDE, ActiveWarning, Hazard, Level, Plan
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from runtime.services import Runtime
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id, submit

log = logging.getLogger("bench")

WARNINGS = ((Hazard.WIND, Level.RED), (Hazard.RAINSTORM, Level.RED), (Hazard.TIDE, Level.RED))
RESULTS = ROOT / "bench" / "results"
TARGET_P99_MS = 1000.0
TARGET_FLOOR_RATIO = 5.0


# -- measuring ---------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (with 20 runs, p99 is the slowest run)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class RssSampler:
    """Peak resident set size of a process: sampled every 20 ms and the kernel's VmHWM."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self._proc.memory_info().rss)

    def now(self) -> int:
        return int(self._proc.memory_info().rss)

    def stop(self) -> int:
        """Stop sampling; the peak in bytes (the kernel's high-water mark where it has one)."""
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
        return self.peak


@dataclass
class Seen:
    """Task messages of one response as the watcher consumed them."""

    ids: set[str] = field(default_factory=set)
    copies: int = 0
    first: float = 0.0
    last: float = 0.0
    raw: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)


class TaskWatcher:
    """Reads every live task topic from its end, like the agencies would."""

    def __init__(self, settings: Settings, plan: Plan) -> None:
        self._parts = [
            TopicPartition(settings.topic(f"tasks.{agency.id}"), p)
            for agency in plan.agencies
            for p in range(settings.topic_partitions)
        ]
        self._consumer = AIOKafkaConsumer(
            **client_options(settings),
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.assign(self._parts)
        await self._consumer.seek_to_end(*self._parts)
        for tp in self._parts:  # resolve the end offsets now, not on the first fetch
            await self._consumer.position(tp)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def wait_for(self, prefix: str, count: int, within: float = 120.0) -> Seen:
        """Consume until ``count`` distinct task ids of responses named ``prefix*`` arrived."""
        seen = Seen()
        deadline = time.perf_counter() + within
        while len(seen.ids) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {len(seen.ids)} of {count} task messages in {within}s")
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    body = json.loads(record.value or b"{}")
                    if body.get("type") != "task" or not body["response_id"].startswith(prefix):
                        continue
                    seen.first = seen.first or now
                    seen.last = now
                    seen.copies += 1
                    seen.ids.add(body["task_id"])
                    seen.raw.append((record.topic, record.key, record.value or b""))
        return seen


@dataclass
class RunResult:
    """One measured run, times in milliseconds."""

    latency_ms: float
    first_message_ms: float
    submit_ms: float
    duplicates: int
    floor_kafka_ms: float
    floor_workflow_ms: float
    phases_ms: dict[str, float] = field(default_factory=dict)
    """Where the response's time went until its last task message was handed to Kafka."""
    dispatches: int = 0
    """``publish_tasks`` calls: 1 when the three warnings were applied together, 2 when the
    first was applied alone (its 504 child workflows then start before the rest go out)."""

    @property
    def floor_ms(self) -> float:
        return self.floor_kafka_ms + self.floor_workflow_ms


# -- the benchmark ---------------------------------------------------------------------------
class Bench:
    def __init__(
        self, settings: Settings, client: Client, plan: Plan, watcher: TaskWatcher, worker_pid: int
    ) -> None:
        self.worker_pid = worker_pid
        self.settings = settings
        self.client = client
        self.plan = plan
        self.watcher = watcher
        self.expected = len(
            respond([ActiveWarning(h, lv, (CITYWIDE,)) for h, lv in WARNINGS], plan).tasks
        )
        self.producer = AIOKafkaProducer(
            **client_options(settings), enable_idempotence=True, linger_ms=5
        )

    async def run_once(self, index: int) -> RunResult:
        region = f"bench{index}x{uuid.uuid4().hex[:6]}"
        sent = datetime.now(UTC)
        alerts = [
            Alert(
                id=f"{region}-{hazard}",
                sender="bench",
                sent=sent,
                status=Status.ACTUAL,
                kind=Kind.ALERT,
                hazard=hazard,
                level=level,
                areas=(CITYWIDE,),
            )
            for hazard, level in WARNINGS
        ]
        s = self.settings
        started = time.perf_counter()
        await submit(self.client, s.task_queue, region, self.plan, alerts[0])
        accepted = time.perf_counter()
        for alert in alerts[1:]:
            await submit(self.client, s.task_queue, region, self.plan, alert)
        seen = await self.watcher.wait_for(f"{response_workflow_id(region, False)}-", self.expected)
        result = RunResult(
            latency_ms=(seen.last - accepted) * 1000,
            first_message_ms=(seen.first - accepted) * 1000,
            submit_ms=(accepted - started) * 1000,
            duplicates=seen.copies - len(seen.ids),
            floor_kafka_ms=await self.kafka_floor(region, seen),
            floor_workflow_ms=await self.workflow_floor(region),
        )
        result.phases_ms, result.dispatches = await self.clean_up(region)
        return result

    async def kafka_floor(self, region: str, seen: Seen) -> float:
        """The same messages (topic, key, bytes) produced straight, until all are consumed."""
        old = f'"{response_workflow_id(region, False)}-'.encode()
        new = f'"floor-{region}-'.encode()
        unique: dict[bytes | None, tuple[str, bytes | None, bytes]] = {}
        for topic, key, value in seen.raw:
            unique.setdefault(key, (topic, key, value.replace(old, new)))
        started = time.perf_counter()
        pending = [
            await self.producer.send(topic, value, key=key) for topic, key, value in unique.values()
        ]
        await asyncio.gather(*pending)
        floor = await self.watcher.wait_for(f"floor-{region}-", len(unique))
        return (floor.last - started) * 1000

    async def workflow_floor(self, region: str) -> float:
        """One empty workflow: start, run on a worker, result back."""
        started = time.perf_counter()
        await self.client.execute_workflow(
            EmptyWorkflow.run, id=f"floor-{region}", task_queue=FLOOR_QUEUE
        )
        return (time.perf_counter() - started) * 1000

    async def clean_up(self, region: str) -> tuple[dict[str, float], int]:
        """Read where the time went, terminate the run's workflows, wait for a quiet worker.

        Not timed. The task workflows' first activations keep the worker busy for a while
        after the last message; the next run starts only once its CPU is idle again, so runs
        do not measure each other's tail.
        """
        handle = self.client.get_workflow_handle(response_workflow_id(region, False))
        for _ in range(100):  # the children start after the messages; wait for all of them
            status = await handle.query(ResponseWorkflow.status)
            if len(status.tasks) >= self.expected:
                break
            await asyncio.sleep(0.1)
        for _ in range(600):  # tracking starts beside the messages: wait until it is done
            history = await handle.fetch_history()
            if any(_activity_name(history, e) == "start_tracking" for e in history.events):
                break
            await asyncio.sleep(0.1)
        phases = phases_of(history)
        dispatches = sum(_activity_name(history, e) == "publish_tasks" for e in history.events)
        await settle(self.worker_pid)
        with contextlib.suppress(RPCError):
            await handle.terminate("bench run over")
        limit = asyncio.Semaphore(32)

        async def terminate(workflow_id: str) -> None:
            async with limit:
                with contextlib.suppress(RPCError):
                    await self.client.get_workflow_handle(workflow_id).terminate("bench")

        await asyncio.gather(*(terminate(task_workflow_id(v.task_id)) for v in status.tasks))
        await settle(self.worker_pid)
        return phases, dispatches


def phases_of(history: WorkflowHistory) -> dict[str, float]:
    """Server-side time split of a response until its last ``publish_tasks`` or
    ``start_tracking`` completed (tracking starts beside the messages; it ends once every task
    workflow exists, so its figure is how long an early answer may have to start one itself).

    ``workflow_tasks`` is time spent in workflow code (started to completed), ``queued`` the
    time workflow tasks waited for the worker, and one entry per activity type its total
    scheduled-to-completed time (including the worker picking it up).
    """
    phases: dict[str, float] = {}
    pending: dict[int, tuple[str, datetime]] = {}
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    end = max(
        (
            e.event_id
            for e in history.events
            if _activity_name(history, e) in ("publish_tasks", "start_tracking")
        ),
        default=0,
    )
    for event in history.events:
        if event.event_id > end:
            break
        at = event.event_time.ToDatetime()
        if event.HasField("workflow_task_scheduled_event_attributes"):
            scheduled_at = at
        elif event.HasField("workflow_task_started_event_attributes") and scheduled_at:
            started_at = at
            phases["queued"] = phases.get("queued", 0.0) + _ms(at - scheduled_at)
        elif event.HasField("workflow_task_completed_event_attributes") and started_at:
            phases["workflow_tasks"] = phases.get("workflow_tasks", 0.0) + _ms(at - started_at)
        elif event.HasField("activity_task_scheduled_event_attributes"):
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            pending[event.event_id] = (name, at)
        elif event.HasField("activity_task_completed_event_attributes"):
            name, since = pending.pop(
                event.activity_task_completed_event_attributes.scheduled_event_id
            )
            phases[name] = phases.get(name, 0.0) + _ms(at - since)
    return {name: round(value, 1) for name, value in phases.items()}


def _activity_name(history: WorkflowHistory, event: Any) -> str | None:
    if not event.HasField("activity_task_completed_event_attributes"):
        return None
    scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
    attrs = history.events[scheduled - 1].activity_task_scheduled_event_attributes
    return str(attrs.activity_type.name)


def _ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


async def settle(pid: int, idle_percent: float = 10.0, within: float = 30.0) -> None:
    """Return once the process used under ``idle_percent`` of a core for half a second."""
    proc = psutil.Process(pid)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(proc.cpu_percent, 0.5) < idle_percent:
            return


FLOOR_QUEUE = "bench-floor"


def worker_env(settings: Settings) -> dict[str, str]:
    """Every setting as its ``TIDEGATE_*`` variable, so the worker sees what we see."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE_")}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None:
            env[f"TIDEGATE_{name.upper()}"] = str(value)
    return env


async def start_worker(
    settings: Settings, client: Client, log_path: Path
) -> subprocess.Popen[bytes]:
    """``python worker.py`` against the scratch stack; returns once it polls its queue."""
    popen = _proc.spawn(
        [sys.executable, str(ROOT / "worker.py")],
        log_path=log_path,
        cwd=ROOT,
        detach=False,
        env=worker_env(settings),
    )
    deadline = time.monotonic() + 60
    while b"tidegate worker running" not in await asyncio.to_thread(log_path.read_bytes):
        if popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start; see {log_path}")
        await asyncio.sleep(0.1)
    return popen


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log.warning("--profile needs py-spy (pip install py-spy); running without it")
        return None
    formats = {".svg": "flamegraph", ".txt": "raw", ".json": "speedscope"}
    fmt = formats.get(out.suffix, "flamegraph")
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--threads", "-r", "200", "-f", fmt, "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def benchmark(runs: int, warmup: int, profile: Path | None) -> dict[str, Any]:
    plan = load_plan()
    async with scratch_stack() as scratch, Runtime(scratch.settings, plan=plan) as rt:
        settings = scratch.settings
        client = await rt.temporal()
        log_path = settings.data_dir / "worker.log"
        popen = await start_worker(settings, client, log_path)
        sampler = RssSampler(popen.pid)
        sampler.start()
        watcher = TaskWatcher(settings, plan)
        await watcher.start()
        bench = Bench(settings, client, plan, watcher, popen.pid)
        await bench.producer.start()
        spy: subprocess.Popen[bytes] | None = None
        try:
            async with Worker(client, task_queue=FLOOR_QUEUE, workflows=[EmptyWorkflow]):
                idle_rss = sampler.now()
                for i in range(warmup):
                    await bench.run_once(-1 - i)
                    log.info("warm-up run %d done", i + 1)
                if profile is not None:
                    spy = start_profiler(popen.pid, profile)
                results = []
                for i in range(runs):
                    result = await bench.run_once(i)
                    results.append(result)
                    log.info(
                        "run %d: %.0f ms (floor %.0f ms)", i + 1, result.latency_ms, result.floor_ms
                    )
        finally:
            if spy is not None:
                spy.send_signal(2)  # py-spy writes the flame graph on SIGINT
                spy.wait(60)
            peak = sampler.stop()
            await bench.producer.stop()
            await watcher.stop()
            popen.terminate()
            popen.wait(30)
    return summarise(results, bench.expected, peak, idle_rss)


def summarise(results: list[RunResult], tasks: int, peak: int, idle: int) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(percentile(values, 50), 1),
            "p99": round(percentile(values, 99), 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
        }

    latency = stats([r.latency_ms for r in results])
    floor = stats([r.floor_ms for r in results])
    return {
        "tasks": tasks,
        "runs": len(results),
        "latency_ms": latency,
        "floor_ms": floor,
        "tasks_per_s": round(tasks / (latency["p50"] / 1000), 1),
        "worker_rss_mb": round(peak / 2**20, 1),
        "worker_rss_idle_mb": round(idle / 2**20, 1),
        "ratio_to_floor": {
            "p50": round(latency["p50"] / floor["p50"], 2),
            "p99": round(latency["p99"] / floor["p99"], 2),
        },
        "first_message_ms": stats([r.first_message_ms for r in results]),
        "submit_ms": stats([r.submit_ms for r in results]),
        "floor_parts_ms": {
            "kafka": stats([r.floor_kafka_ms for r in results]),
            "empty_workflow": stats([r.floor_workflow_ms for r in results]),
        },
        "phases_ms_p50": {
            name: round(percentile([r.phases_ms.get(name, 0.0) for r in results], 50), 1)
            for name in sorted({n for r in results for n in r.phases_ms})
        },
        "duplicate_messages": sum(r.duplicates for r in results),
        "runs_with_two_dispatches": sum(r.dispatches > 1 for r in results),
        "target": {"p99_ms": TARGET_P99_MS, "max_ratio_to_floor": TARGET_FLOOR_RATIO},
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "git": _git_revision(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs_ms": [asdict(r) for r in results],
    }


def _git_revision() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip()
    return "unknown"


def table(result: dict[str, Any]) -> str:
    lat, floor, ratio = result["latency_ms"], result["floor_ms"], result["ratio_to_floor"]
    parts = result["floor_parts_ms"]
    p99_ok = lat["p99"] < TARGET_P99_MS
    ratio_ok = ratio["p99"] <= TARGET_FLOOR_RATIO
    rows = [
        ("tasks per run", f"{result['tasks']}", f"{result['runs']} runs"),
        ("accepted -> last task on Kafka", f"p50 {lat['p50']:.0f} ms", f"p99 {lat['p99']:.0f} ms"),
        (
            "accepted -> first task on Kafka",
            f"p50 {result['first_message_ms']['p50']:.0f} ms",
            f"p99 {result['first_message_ms']['p99']:.0f} ms",
        ),
        (
            "floor: aiokafka direct",
            f"p50 {parts['kafka']['p50']:.0f} ms",
            f"p99 {parts['kafka']['p99']:.0f} ms",
        ),
        (
            "floor: empty workflow",
            f"p50 {parts['empty_workflow']['p50']:.0f} ms",
            f"p99 {parts['empty_workflow']['p99']:.0f} ms",
        ),
        ("floor (sum)", f"p50 {floor['p50']:.0f} ms", f"p99 {floor['p99']:.0f} ms"),
        ("latency / floor", f"p50 {ratio['p50']:.1f}x", f"p99 {ratio['p99']:.1f}x"),
        ("tasks per second (at p50)", f"{result['tasks_per_s']:.0f}", ""),
        (
            "worker RSS",
            f"peak {result['worker_rss_mb']:.0f} MB",
            f"idle {result['worker_rss_idle_mb']:.0f} MB",
        ),
        ("duplicate task messages", f"{result['duplicate_messages']}", ""),
        (
            "target: p99 < 1 s",
            "met" if p99_ok else "NOT met",
            f"p99 <= {TARGET_FLOOR_RATIO:.0f}x floor: {'met' if ratio_ok else 'NOT met'}",
        ),
    ]
    for name, value in sorted(result["phases_ms_p50"].items(), key=lambda kv: -kv[1]):
        rows.append((f"  time in {name} (p50, server)", f"{value:.0f} ms", ""))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b:<18} {c}" for a, b, c in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="runs not counted (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS / "dispatch.json")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="sample the worker with py-spy during the measured runs: .svg flame graph, "
        ".txt collapsed stacks, .json speedscope",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    for noisy in ("aiokafka", "alembic", "devstack", "temporalio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    result = asyncio.run(benchmark(args.runs, args.warmup, args.profile))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)
    print(table(result))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
