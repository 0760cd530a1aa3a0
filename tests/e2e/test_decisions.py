"""The sender is told what the response decided, on every channel, end to end.

Issue #9 item 7: ``accepted`` used to mean only "handed on". Now the CLI, HTTP and Kafka intake
wait briefly for the response's decision (``alerts.decisions``) and report it: applied,
duplicate, stale, held or rejected, with the reason; or, when the worker does not decide in
time, "queued, decision pending" and where to look it up. Real Temporal dev server, Kafka,
database (SQLite and PostgreSQL) and worker; the real ``tidegate`` entry point.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from access.matrix import Role
from alerts.consumer import AlertConsumer
from cli.exit import ExitCode
from config.settings import Settings
from devstack._proc import free_ports
from plans.loader import load_plan
from runtime.services import connect_temporal, start_producer
from store.db import create_engine, session_maker
from tests.e2e.harness import (
    eventually,
    prepare,
    run_tidegate,
    running_worker,
    tidegate,
    token_of,
)
from tests.e2e.intake import ago, json_alert, produce, read
from tests.e2e.test_intake_http import AUTH, JSON, TOKEN, running_api

pytestmark = pytest.mark.e2e

ISSUE = ("alert", "issue", "--hazard", "rainstorm", "--level", "blue", "--area", "奉贤区")


def _json(out: Any) -> dict[str, Any]:
    assert out.stdout.strip(), out.stderr
    body: dict[str, Any] = json.loads(out.stdout)
    return body


async def _shown(s: Settings, alert_id: str, decision: str) -> dict[str, Any] | None:
    out = await run_tidegate(s, "alert", "show", alert_id, "--json")
    if out.returncode != 0:
        return None
    view = _json(out)
    return view if view["decision"] == decision else None


async def test_the_cli_says_what_the_response_decided(e2e_settings: Settings) -> None:
    s = e2e_settings
    await prepare(s)
    duty = await token_of(s, Role.DUTY_OFFICER)
    # No worker: the warning is queued (durable), but nobody decides it in time.
    queued = await run_tidegate(s, *ISSUE, "--id", "cli-d-1", "--wait", "1", "--json", token=duty)
    assert queued.returncode == ExitCode.PENDING, queued.stderr
    body = _json(queued)
    assert (body["id"], body["decision"], body["workflow_id"]) == (
        "cli-d-1",
        "pending",
        f"response-{s.region}",
    )
    assert "tidegate alert show cli-d-1" in body["reason"]
    unknown = await run_tidegate(s, "alert", "show", "cli-d-1")  # not recorded yet
    assert unknown.returncode == ExitCode.REJECTED

    async with running_worker(s):
        # The worker takes the queued warning up: it was never lost.
        assert await eventually(lambda: _shown(s, "cli-d-1", "apply"))

        again = await run_tidegate(s, *ISSUE, "--id", "cli-d-1", token=duty)
        assert again.returncode == ExitCode.DUPLICATE, again.stdout + again.stderr
        assert again.stdout.startswith("duplicate alert cli-d-1: rainstorm blue fengxian -> ")
        assert "already received" in again.stdout
        # Every copy gets its own decision, the third as the second.
        third = await run_tidegate(s, *ISSUE, "--id", "cli-d-1", "--json", token=duty)
        assert third.returncode == ExitCode.DUPLICATE, third.stderr
        assert _json(third)["decision"] == "duplicate"

        held = await run_tidegate(s, "alert", "update", "no-such-id", "--hazard", "rainstorm",
                        "--level", "orange", "--json", token=duty)  # fmt: skip
        assert held.returncode == ExitCode.HELD, held.stdout + held.stderr
        assert _json(held)["decision"] == "held"
        assert "waiting for no-such-id" in _json(held)["reason"]

        update = await run_tidegate(s, "alert", "update", "cli-d-1", "--hazard", "rainstorm",
                          "--level", "yellow", "--area", "奉贤区", token=duty)  # fmt: skip
        assert update.returncode == ExitCode.OK, update.stdout + update.stderr
        assert update.stdout.startswith("applied update ")
        assert "in warning cli-d-1" in update.stdout
        cancel = await run_tidegate(s, "alert", "cancel", "cli-d-1", "--json", token=duty)
        assert cancel.returncode == ExitCode.OK, cancel.stdout + cancel.stderr
        cancel_id = _json(cancel)["id"]
        stale = await run_tidegate(s, "alert", "update", "cli-d-1", "--hazard", "rainstorm",
                         "--level", "red", token=duty)  # fmt: skip
        assert stale.returncode == ExitCode.STALE, stale.stdout + stale.stderr
        assert "was cancelled" in stale.stdout

        shown = await run_tidegate(s, "alert", "show", "cli-d-1", "--json")
        assert shown.returncode == ExitCode.OK, shown.stderr
        view = _json(shown)
        assert view["decision"] == "apply"
        assert [d["decision"] for d in view["decisions"]] == ["apply", "duplicate", "duplicate"]
        assert [c["kind"] for c in view["changed_by"]] == ["update", "cancel"]
        assert view["changed_by"][1]["id"] == cancel_id
        assert f"cancelled by {cancel_id} at " in view["effect"]
        text = await run_tidegate(s, "alert", "show", "cli-d-1")
        assert "since then: updated by " in text.stdout, text.stdout

    dead = s.model_copy(update={"temporal_address": f"127.0.0.1:{free_ports(1)[0]}"})
    unsent = tidegate(dead, *ISSUE, "--json", token=duty)
    assert unsent.returncode == ExitCode.UNREACHABLE
    assert "NOT sent" in unsent.stderr
    assert _json(unsent)["decision"] == "unreachable"
    assert "Traceback" not in unsent.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_http_answers_with_the_decision(e2e_settings: Settings) -> None:
    port = free_ports(1)[0]
    s = e2e_settings.model_copy(
        update={"http_port": port, "api_token": TOKEN, "decision_wait_seconds": 0.5}
    )
    await prepare(s)
    async with running_api(s) as http:  # no worker: nobody decides
        posted = await http.post("/alerts", content=json_alert("http-d-1"), headers=JSON)
        assert posted.status_code == 202, posted.text
        assert posted.json()["decision"] == "pending"
        assert posted.headers["location"] == "/alerts/http-d-1"
        assert "GET /alerts/http-d-1" in posted.json()["reason"]

    patient = s.model_copy(update={"decision_wait_seconds": e2e_settings.decision_wait_seconds})
    async with running_worker(s), running_api(patient) as http:

        async def stands(alert_id: str, decision: str) -> dict[str, Any] | None:
            got = await http.get(f"/alerts/{alert_id}", headers=AUTH)
            ok = got.status_code == 200 and got.json()["decision"] == decision
            return got.json() if ok else None

        assert await eventually(lambda: stands("http-d-1", "apply"))
        again = await http.post("/alerts", content=json_alert("http-d-1"), headers=JSON)
        assert (again.status_code, again.json()["decision"]) == (200, "duplicate"), again.text

        early = json_alert("http-d-early", kind="update", references=["http-d-2"], level="yellow")
        held = await http.post("/alerts", content=early, headers=JSON)
        assert (held.status_code, held.json()["decision"]) == (202, "held"), held.text
        assert held.headers["location"] == "/alerts/http-d-early"

        upgrade = json_alert("http-d-up", kind="update", references=["http-d-1"], level="orange")
        applied = await http.post("/alerts", content=upgrade, headers=JSON)
        assert (applied.status_code, applied.json()["decision"]) == (200, "apply"), applied.text
        assert applied.json()["warning"] == "http-d-1"

        old = json_alert("http-d-old", kind="cancel", references=["http-d-1"], sent=ago(3600))
        stale = await http.post("/alerts", content=old, headers=JSON)
        assert (stale.status_code, stale.json()["decision"]) == (409, "stale"), stale.text
        assert "older than" in stale.json()["reason"]

        # What the held update waited for arrives: it is released, and GET shows it.
        second = await http.post("/alerts", content=json_alert("http-d-2"), headers=JSON)
        assert second.status_code == 200, second.text
        released = await eventually(lambda: stands("http-d-early", "apply"))
        assert [d["decision"] for d in released["decisions"]] == ["held", "apply"]
        original = await eventually(lambda: stands("http-d-1", "apply"))
        assert [c["id"] for c in original["changed_by"]] == ["http-d-up"]
        assert original["effect"].startswith("updated by http-d-up at ")


@contextlib.asynccontextmanager
async def _intake_only(s: Settings) -> AsyncIterator[None]:
    """The Kafka alert consumer without a Temporal worker: warnings queue, nobody decides."""
    client = await connect_temporal(s)
    engine = create_engine(s.db_url)
    producer = await start_producer(s)
    try:
        async with AlertConsumer(s, client, session_maker(engine), producer, load_plan()):
            yield
    finally:
        await producer.stop()
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_kafka_intake_publishes_a_decision_record_per_alert(e2e_settings: Settings) -> None:
    s = e2e_settings.model_copy(update={"decision_wait_seconds": 0.5})
    await prepare(s)
    decisions = s.topic("alerts.decisions")
    async with _intake_only(s):
        await produce(s, [json_alert("kafka-d-1")])
        queued = await read(s, [decisions], count=1)
    assert len(queued) == 1
    assert queued[0].key == b"kafka-d-1"
    body = json.loads(queued[0].value or b"")
    assert (body["type"], body["id"], body["decision"]) == ("decision", "kafka-d-1", "pending")
    assert "GET /alerts/kafka-d-1" in body["lookup"]

    async with running_worker(e2e_settings):
        await produce(
            s,
            [
                json_alert("kafka-d-1"),
                json_alert("kafka-d-held", kind="update", references=["nowhere"], level="red"),
                json_alert("kafka-d-test", status="test"),
            ],
        )
        records = await read(s, [decisions], count=4)
    found = {r.key: json.loads(r.value or b"") for r in records[1:]}
    # Each is reported when decided: the order between different ids is not fixed.
    assert {key: body["decision"] for key, body in found.items()} == {
        b"kafka-d-1": "duplicate",  # the worker applied the queued copy first
        b"kafka-d-held": "held",
        b"kafka-d-test": "ignored",
    }
    assert "waiting for nowhere" in found[b"kafka-d-held"]["reason"]
    assert found[b"kafka-d-1"]["workflow_id"] == f"response-{s.region}"
    assert found[b"kafka-d-test"]["workflow_id"] is None
