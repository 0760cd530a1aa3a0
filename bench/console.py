"""Console benchmark: the board's server time with 5,000 tasks, and change-to-board latency.

    .venv/bin/python bench/console.py [--tasks 5000] [--runs 20]

Writes a live response with a citywide red typhoon + rainstorm + tide + flood into a fresh
SQLite database: the plan's tasks for it, dispatched again and again until there are at least
``--tasks`` rows (the rows the workflows' activities write, ``tests/console/seed.py``). Then:

* **server time** of ``GET /`` (the whole board) and ``GET /board/live`` (what a page fetches
  at every change): the console app in this process (``console.web.mount``), requests through
  httpx's ASGI transport, so the time is the server's alone (queries and rendering), no
  network. Temporal is a stub answering at once: what the board waits for from a live
  workflow is a query, measured elsewhere.
* **change to board**: the same app served by uvicorn on a free port, the board open in
  Chromium (``/usr/bin/chromium``, as the browser tests); for each run one task's transition is
  written as the worker's ``record_task_transition`` writes it, and the clock stops when the
  board in the browser shows the new count (``wait_for_function`` polling every animation
  frame). That is the change feed's poll (``console.live.POLL_SECONDS``), the event, the
  fragment fetch and the swap.

Results: a table on stdout and ``bench/results/console.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select

from config.settings import ROOT, Settings
from console import live
from console import web as console
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level
from plans.rules import respond
from store import records
from store.db import create_engine, session_maker
from store.migrate import upgrade_async
from store.models import TaskRecord
from tests.console.seed import seed_response
from workflows.tracking import AnswerRoute
from workflows.types import ResponseStatus

RESULTS = ROOT / "bench" / "results" / "console.json"
TOKEN = "bench-console-token"


class _Handle:
    def __init__(self, status: ResponseStatus) -> None:
        self.status = status

    async def query(self, *args: Any, **kwargs: Any) -> ResponseStatus:
        return self.status


class _Client:
    """Temporal answering every query at once with the seeded response's status."""

    def __init__(self, status: ResponseStatus) -> None:
        self.status = status

    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        return _Handle(self.status)


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
        "n": len(ordered),
    }


async def main(tasks: int, runs: int) -> dict[str, Any]:
    plan = load_plan()
    folder = Path(tempfile.mkdtemp(prefix="tidegate-bench-console-"))
    url = f"sqlite+aiosqlite:///{folder / 'console.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_maker(engine)
    per_copy = len(
        respond([ActiveWarning(h, Level.RED, ("citywide",)) for h in Hazard], plan).tasks
    )
    copies = -(-tasks // per_copy)
    seeded = await seed_response(
        sessions, plan, level=Level.RED, areas=("citywide",), copies=copies, hazards=tuple(Hazard)
    )
    async with sessions() as session:
        stored = int(await session.scalar(select(func.count()).select_from(TaskRecord)) or 0)
    settings = Settings(data_dir=folder, database_url=url, api_token=TOKEN)
    status = ResponseStatus(seeded.response_id, plan.version, {}, [seeded.warning_id], [])
    client = _Client(status)
    stop = asyncio.Event()
    app = FastAPI()
    console.mount(
        app,
        settings=settings,
        client=client,  # type: ignore[arg-type]
        sessions=sessions,
        plan=plan,
        answers=AnswerRoute(client, sessions, settings.task_queue, False),  # type: ignore[arg-type]
        stopping=stop,
    )
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"}
    server: dict[str, list[float]] = {"/": [], "/board/live": []}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for path in server:
            await http.get(path, headers=headers)  # warm-up: templates compiled, caches filled
            for _ in range(runs):
                started = time.perf_counter()
                answer = await http.get(path, headers=headers)
                server[path].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text[:300]
    latency = await _change_to_board(app, sessions, seeded.task_ids, runs, headers)
    stop.set()
    await engine.dispose()
    return {
        "tasks_in_db": stored,
        "runs": runs,
        "server_ms": {path: _ms(values) for path, values in server.items()},
        "change_to_board_ms": _ms(latency),
        "poll_seconds": live.POLL_SECONDS,
        "database": "sqlite",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "git": _git(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def _change_to_board(
    app: FastAPI, sessions: Any, task_ids: list[str], runs: int, headers: dict[str, str]
) -> list[float]:
    from playwright.async_api import async_playwright

    from tests.e2e.browser import ARGS, CHROMIUM

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    out: list[float] = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=ARGS
            )
            page = await browser.new_page(
                base_url=f"http://127.0.0.1:{port}", extra_http_headers=headers
            )
            await page.goto("/")
            await page.wait_for_selector("#live.ok")
            cell = '#task-counts tr[data-agency="drainage"] td[data-state="completed"]'
            drainage = [t for t in task_ids[2:] if "/drainage." in t]
            for index, task_id in enumerate(drainage[:runs], start=1):
                async with sessions.begin() as session:
                    started = time.perf_counter()
                    await records.save_transition(
                        session, task_id, 50, "completed", "complete", datetime.now(UTC), {}
                    )
                await page.wait_for_function(
                    f"() => document.querySelector('{cell}').textContent.trim() === '{index}'",
                    polling="raf",
                    timeout=60_000,
                )
                out.append((time.perf_counter() - started) * 1000)
            await browser.close()
    finally:
        server.should_exit = True
        await serving
    return out


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _git() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(main(args.tasks, args.runs))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    server_ms = result["server_ms"]
    print(f"tasks in the database: {result['tasks_in_db']} (SQLite), {args.runs} runs each")
    print(f"{'':28}{'p50':>8}{'p90':>8}{'max':>8}  ms")
    for label, row in (
        ("server time GET /", server_ms["/"]),
        ("server time GET /board/live", server_ms["/board/live"]),
        ("task change -> board shows", result["change_to_board_ms"]),
    ):
        print(f"{label:28}{row['p50']:>8}{row['p90']:>8}{row['max']:>8}")
    print(f"written to {RESULTS.relative_to(ROOT)}")
