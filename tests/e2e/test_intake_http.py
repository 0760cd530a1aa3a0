"""Warnings over HTTP, end to end: the app exactly as ``tidegate serve`` builds and serves it.

``cli.serve.run`` (uvicorn on a free port, the real submit, lookup and on_reject) runs in this
event loop next to the production worker; requests go over real HTTP. The last test runs
``tidegate serve`` itself in a subprocess and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cli import serve
from config.settings import ROOT, Settings
from devstack._proc import free_ports
from plans.model import ActiveWarning, Hazard, Level
from tests.e2e.harness import (
    collect,
    env_for,
    eventually,
    prepare,
    run_tidegate,
    running_worker,
)
from tests.e2e.intake import cap_alert, json_alert, rejections, tasks_for, warnings
from workflows.starters import response_workflow_id

pytestmark = pytest.mark.e2e

TOKEN = "e2e-duty-officer-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
CAP = {**AUTH, "Content-Type": "application/cap+xml"}


@pytest.fixture
def api_settings(e2e_settings: Settings) -> Settings:
    """The test's settings with a port and a token of its own."""
    return e2e_settings.model_copy(update={"http_port": free_ports(1)[0], "api_token": TOKEN})


@contextlib.asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """``tidegate serve``'s ``run`` in this event loop, and a client for it."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve.run(settings, stop))
    base = f"http://{settings.http_host}:{settings.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        try:
            await _until_up(client, task)
            yield client
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)


async def _until_up(client: httpx.AsyncClient, task: asyncio.Task[None] | None = None) -> None:
    deadline = time.monotonic() + 30
    while True:
        if task is not None and task.done():
            task.result()  # raises what stopped it
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/openapi.json")).status_code == 200:
                return
        assert time.monotonic() < deadline, "the HTTP API did not come up"
        await asyncio.sleep(0.1)


async def test_post_and_get_alerts_over_http(api_settings: Settings) -> None:
    s = api_settings
    await prepare(s)
    async with running_worker(s), running_api(s) as http:
        posted = await http.post("/alerts", content=json_alert("http-json-1"), headers=JSON)
        assert (posted.status_code, posted.json()["decision"]) == (200, "apply"), posted.text
        assert posted.json()["workflow_id"] == response_workflow_id(s.region, drill=False)
        assert posted.json()["areas"] == ["jinshan"]
        posted = await http.post("/alerts", content=cap_alert("http-cap-1"), headers=CAP)
        assert posted.status_code == 200, posted.text
        assert posted.json()["hazard"] == "rainstorm"

        exercise = json_alert("http-exercise-1", status="exercise")
        posted = await http.post("/alerts", content=exercise, headers=JSON)
        assert posted.status_code == 200, posted.text
        assert posted.json()["workflow_id"] == response_workflow_id(s.region, drill=True)
        posted = await http.post(
            "/alerts", content=json_alert("http-test-1", status="test"), headers=JSON
        )
        assert (posted.status_code, posted.json()["route"]) == (200, "ignored")

        # The workflow got them: their tasks go out, and GET shows the decision.
        expected = tasks_for(
            ActiveWarning(Hazard.TIDE, Level.BLUE, ("jinshan",)),
            ActiveWarning(Hazard.RAINSTORM, Level.BLUE, ("fengxian",)),
        )
        topics = [s.topic(f"tasks.{agency}") for agency in {t.agency for t in expected}]
        messages = await collect(s, topics, lambda m: True, len(expected))
        assert len(messages) == len(expected)

        async def shown(alert_id: str) -> dict[str, Any] | None:
            got = await http.get(f"/alerts/{alert_id}", headers=AUTH)
            return got.json() if got.status_code == 200 else None

        found = await eventually(lambda: shown("http-cap-1"))
        assert found is not None
        assert found["decision"] == "apply"
        assert (found["hazard"], found["level"], found["areas"]) == (
            "rainstorm",
            "blue",
            ["fengxian"],
        )
        assert found["response_id"].startswith(response_workflow_id(s.region, drill=False))
        assert found["decisions"][0]["decision"] == "apply"
        assert (await http.get("/alerts/never-sent", headers=AUTH)).status_code == 404
        assert "http-test-1" not in await warnings(s)

        # Refusals: 401 is never recorded; every other refusal is, with its reason.
        assert (await http.post("/alerts", content=json_alert("x"))).status_code == 401
        assert (await http.get("/alerts/http-cap-1")).status_code == 401
        wrong = {**JSON, "Authorization": "Bearer nope"}
        assert (
            await http.post("/alerts", content=json_alert("x"), headers=wrong)
        ).status_code == 401

        too_big = b"{" + b" " * s.max_alert_bytes + b"}"
        unknown_area = json_alert("http-mars", areas=["火星"])
        refusals = [
            (too_big, JSON, 413),
            (unknown_area, JSON, 422),
            (b'{"id": ', JSON, 400),
            (json_alert("http-plain"), {**AUTH, "Content-Type": "text/plain"}, 415),
            (json_alert("http-as-cap"), CAP, 415),
        ]
        for body, headers, status in refusals:
            answer = await http.post("/alerts", content=body, headers=headers)
            assert answer.status_code == status, answer.text
            assert answer.json()["detail"]
        refused = await rejections(s)
        assert [r.channel for r in refused] == ["http"] * len(refusals)
        assert refused[1].payload == unknown_area
        assert refused[1].reason == "areas: unknown area '火星'"
        assert "over the limit" in refused[0].reason
        assert len(refused[0].payload) <= s.max_alert_bytes


def test_refused_on_a_public_address_with_the_development_token(settings: Settings) -> None:
    env = env_for(settings) | {"TIDEGATE_HTTP_HOST": "0.0.0.0"}  # and the default token
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "refusing to serve the HTTP API on 0.0.0.0 with the development token" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_tidegate_serve_accepts_a_warning_and_stops_cleanly_on_sigterm(
    api_settings: Settings,
) -> None:
    s = api_settings
    await prepare(s)
    env = env_for(s) | {
        "TIDEGATE_HTTP_PORT": str(s.http_port),
        "TIDEGATE_API_TOKEN": TOKEN,
        "TIDEGATE_DECISION_WAIT_SECONDS": "0.5",  # no worker runs: nobody decides
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "serve",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.http_port}") as http:
            await _until_up(http)
            posted = await http.post("/alerts", content=json_alert("serve-1"), headers=JSON)
            assert (posted.status_code, posted.json()["decision"]) == (202, "pending"), posted.text
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    err = stderr.decode()
    assert proc.returncode == 0, err
    assert "HTTP intake stopped" in err
    # Durable on 202: the worker, started only now, finds the warning waiting.
    async with running_worker(s):
        assert await eventually(lambda: _recorded(s, "serve-1"))
        assert (await run_tidegate(s, "status", "--json")).returncode == 0


async def _recorded(s: Settings, alert_id: str) -> bool:
    return alert_id in await warnings(s)
