"""Escalation punctuality benchmark: how late the 三单联动 chain fires, with and without crashes.

Issue #9 (item 9) moved this figure out of the reliability test, which must not judge wall-clock
time: escalation timers are durable, so a crash can only delay a step, and by how much is a
property of the deployment (sticky-queue timeout, activity attempt timeout, machine load).

Scenario: a blue rainstorm for Pudong, nobody answering, plan timers ``--scale`` times faster
than real time (as drills run them), on a scratch stack (Temporal dev server, Kafka, SQLite) with
the production worker in a subprocess. Three rounds, each a fresh response:

- **steady**: the worker runs throughout;
- **crashes**: the worker is SIGKILLed ``--kills`` times during the chain and restarted at once;
- the same crashes with the SDK's default sticky-queue timeout (10 s) instead of tidegate's
  ``sticky_timeout_seconds``, side by side.

Per round it reports every step's lateness (fired at - due, from the ``escalations`` rows), as
p50 / p99 / max, and how many steps fired early (must be 0) or not at all (must be 0). Results go
to stdout and ``bench/results/escalations.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bench.dispatch import start_worker
from config.settings import ROOT, Settings
from devstack.scratch import scratch_stack
from plans.lifecycle import scaled
from plans.model import ActiveWarning, Hazard, Level
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from runtime.services import Runtime
from store.models import EscalationRecord, TaskRecord
from workflows.starters import submit

log = logging.getLogger("bench.escalations")
RESULTS = ROOT / "bench" / "results"
PUDONG_BLUE = ActiveWarning(Hazard.RAINSTORM, Level.BLUE, ("pudong",))


@dataclass
class Round:
    """One response's escalations."""

    name: str
    steps_expected: int
    steps_fired: int
    early: int
    lateness_s: dict[str, float]
    kills: int
    sticky_timeout_seconds: float


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of a non-empty list."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(p / 100 * len(ranked)) - 1)]


async def one_round(
    rt: Runtime, name: str, scale: float, kills: int, log_path: Path, sticky: float
) -> Round:
    settings = rt.settings.model_copy(update={"sticky_timeout_seconds": sticky})
    region = f"esc{uuid.uuid4().hex[:6]}"
    tasks = respond([PUDONG_BLUE], rt.plan).tasks
    expected = sum(len(t.escalation) for t in tasks)
    last = max(s.after_minutes for t in tasks for s in t.escalation)
    client = await rt.temporal()
    worker = await start_worker(settings, client, log_path)
    alert = Alert(
        id=f"{region}-rain",
        sender="bench",
        sent=datetime.now(UTC),
        status=Status.ACTUAL,
        kind=Kind.ALERT,
        hazard=Hazard.RAINSTORM,
        level=Level.BLUE,
        areas=("pudong",),
    )
    await submit(client, settings.task_queue, region, rt.plan, alert, time_scale=scale)
    chain = timedelta(minutes=last) / scale
    try:
        for k in range(kills):  # spread the crashes over the chain
            await asyncio.sleep(chain.total_seconds() / (kills + 1))
            worker.kill()
            worker.wait(10)
            worker = await start_worker(settings, client, log_path)
            log.info("%s: kill %d of %d", name, k + 1, kills)
        rows = await _wait_for(rt, region, expected, chain.total_seconds() + 120, scale)
    finally:
        worker.terminate()
        worker.wait(30)
    lateness = [late for late, _ in rows]
    return Round(
        name=name,
        steps_expected=expected,
        steps_fired=len(rows),
        early=sum(1 for late in lateness if late < -0.01),
        lateness_s={
            "p50": round(percentile(lateness, 50), 2) if lateness else math.nan,
            "p99": round(percentile(lateness, 99), 2) if lateness else math.nan,
            "max": round(max(lateness), 2) if lateness else math.nan,
        },
        kills=kills,
        sticky_timeout_seconds=sticky,
    )


async def _wait_for(
    rt: Runtime, region: str, expected: int, within: float, scale: float
) -> list[tuple[float, str]]:
    """(lateness, key) of every escalation of the region's response, once all fired."""
    specs = {t.id: t for t in respond([PUDONG_BLUE], rt.plan).tasks}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    rows: list[tuple[float, str]] = []
    while loop.time() < deadline:
        async with rt.sessions() as session:
            tasks = {
                t.id: t
                for t in await session.scalars(
                    select(TaskRecord).where(
                        TaskRecord.response_id.startswith(f"response-{region}-")
                    )
                )
            }
            escalations = (
                await session.scalars(
                    select(EscalationRecord).where(EscalationRecord.task_id.in_(list(tasks)))
                )
            ).all()
        rows = []
        for esc in escalations:
            task = tasks[esc.task_id]
            step = specs[task.plan_task_id].escalation[int(esc.key.rsplit("#esc", 1)[1])]
            due = task.issued_at + scaled(step.after_minutes, scale)
            rows.append(((esc.at - due).total_seconds(), esc.key))
        if len(rows) >= expected:
            break
        await asyncio.sleep(0.5)
    return rows


async def benchmark(scale: float, kills: int) -> dict[str, Any]:
    async with scratch_stack() as scratch, Runtime(scratch.settings) as rt:
        settings: Settings = scratch.settings
        default = settings.sticky_timeout_seconds
        rounds = [
            await one_round(rt, name, scale, n, settings.data_dir / f"worker-{name}.log", sticky)
            for name, n, sticky in (
                ("steady", 0, default),
                ("crashes", kills, default),
                ("crashes, SDK default sticky timeout", kills, 10.0),
            )
        ]
    return {
        "scenario": "blue rainstorm, Pudong, nobody answers",
        "time_scale": scale,
        "rounds": [asdict(r) for r in rounds],
        "at": datetime.now(UTC).isoformat(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=60.0, help="plan minutes per real minute")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs in the crash round")
    parser.add_argument("--out", type=Path, default=RESULTS / "escalations.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = asyncio.run(benchmark(args.scale, args.kills))
    for r in result["rounds"]:
        late = r["lateness_s"]
        print(
            f"{r['name']:36} sticky {r['sticky_timeout_seconds']:4} s  kills {r['kills']}  "
            f"steps {r['steps_fired']}/{r['steps_expected']}  early {r['early']}  "
            f"late p50 {late['p50']} s  p99 {late['p99']} s  max {late['max']} s"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
