"""``tidegate status`` for a duty officer, end to end (issue #9 item 8).

The real worker runs a live response 300x faster than real time, so tasks go unacknowledged,
escalate and fall overdue within seconds. ``status`` must show the warnings in force, the held
messages, each escalated task's stage and last step and the overdue tasks, with ids whole; and
when the worker, Temporal or the database is gone it must say so and exit non-zero instead of
showing what the database last knew as if it were live.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.client import Client

from access.matrix import Role
from cli.exit import ExitCode
from config.settings import Settings
from devstack._proc import free_ports
from plans.loader import load_plan
from plans.model import Hazard, Level
from plans.warning import Alert, Kind, Status
from store.db import create_engine, session_maker
from store.queries import task as task_row
from tests.e2e.harness import eventually, prepare, run_tidegate, running_worker, token_of
from workflows.starters import submit

pytestmark = pytest.mark.e2e

SCALE = 300.0
PLAN = load_plan()
HEADERS = ("since (UTC)", "stage", "last step (UTC)", "overdue by", "references")


def _flood(alert_id: str) -> Alert:
    return Alert(
        id=alert_id,
        sender="test",
        sent=datetime.now(UTC),
        status=Status.ACTUAL,
        kind=Kind.ALERT,
        hazard=Hazard.FLOOD,
        level=Level.BLUE,
        areas=("pudong",),
    )


async def test_status_shows_what_a_duty_officer_needs(
    e2e_settings: Settings, temporal_env: object
) -> None:
    s = e2e_settings
    client: Client = temporal_env.client  # type: ignore[attr-defined]
    await prepare(s)
    workflow_id = f"response-{s.region}"
    async with running_worker(s):
        await submit(client, s.task_queue, s.region, PLAN, _flood("status-1"), time_scale=SCALE)
        duty = await token_of(s, Role.DUTY_OFFICER)
        held = await run_tidegate(s, "alert", "update", "not-yet", "--hazard", "flood",
                                  "--level", "yellow", "--area", "pudong", "--json",
                                  token=duty)  # fmt: skip
        assert held.returncode == ExitCode.HELD, held.stdout + held.stderr
        held_id = json.loads(held.stdout)["id"]

        async def board() -> dict[str, Any] | None:
            out = await run_tidegate(s, "status", "--json")
            assert out.returncode == ExitCode.OK, out.stderr
            (mine,) = [r for r in json.loads(out.stdout)["responses"] if r["id"].startswith(
                workflow_id)]  # fmt: skip
            tasks = mine["tasks"]
            chased = any(t["escalation"] and t["escalation"]["steps"] >= 2 for t in tasks)
            return mine if chased and any(t["overdue"] for t in tasks) else None

        shown = await eventually(board, within=120)
        assert shown, "tasks escalated twice and fell overdue"
        assert (shown["workflow_id"], shown["workflow"]) == (workflow_id, "running")
        (warning,) = shown["warnings_in_force"]
        assert {k: warning[k] for k in ("id", "warning", "hazard", "level", "areas")} == {
            "id": "status-1",
            "warning": "status-1",
            "hazard": "flood",
            "level": "blue",
            "areas": ["pudong"],
        }
        assert datetime.fromisoformat(warning["since"]) <= datetime.now(UTC)
        (waiting,) = shown["held"]
        assert (waiting["id"], waiting["kind"], waiting["references"]) == (
            held_id,
            "update",
            ["not-yet"],
        )
        assert "waiting for not-yet" in waiting["reason"]
        escalated = [t for t in shown["tasks"] if t["escalation"]]
        for task in escalated:
            assert task["escalation"]["kind"] in ("reminder", "supervision", "warning")
            assert task["escalation"]["to"] in ("agency", "district_hq", "city_hq")
            assert datetime.fromisoformat(task["escalation"]["at"]) <= datetime.now(UTC)

        # Piped (not a terminal): every column, every id whole on its line.
        text = await run_tidegate(s, "status")
        assert text.returncode == ExitCode.OK, text.stderr
        lines = text.stdout.splitlines()
        for title in ("warnings in force", "held messages", "escalated tasks", "overdue tasks"):
            assert any(line.startswith(title) for line in lines), text.stdout
        for header in HEADERS:
            assert header in text.stdout
        for task in escalated + [t for t in shown["tasks"] if t["overdue"]]:
            assert any(task["id"] in line for line in lines), task["id"]
        assert any("status-1" in line and "pudong" in line for line in lines)
        assert any(held_id in line and "not-yet" in line for line in lines)
        assert "…" not in text.stdout

        # A desk acknowledges one escalated task: it leaves the escalated list.
        chased = escalated[0]["id"]
        desk = await desk_token(s, chased)
        acked = await run_tidegate(
            s, "agency", "ack", chased, "--by", "desk-1", "--token", desk, "--json"
        )
        assert acked.returncode == ExitCode.OK, acked.stderr
        assert json.loads(acked.stdout) == {
            "task_id": chased,
            "kind": "acknowledge",
            "by": "desk-1",
            "reason": "",
            "result": "delivered",
            "detail": f"acknowledge {chased} by desk-of-{escalated[0]['agency']}",
        }
        nope = await run_tidegate(
            s, "agency", "complete", f"{chased}-nope", "--token", desk, "--json"
        )
        assert nope.returncode == ExitCode.REJECTED
        assert json.loads(nope.stdout)["result"] == "rejected"

        async def acknowledged() -> bool:
            out = await run_tidegate(s, "status", "--json")
            (mine,) = [r for r in json.loads(out.stdout)["responses"] if r["id"].startswith(
                workflow_id)]  # fmt: skip
            return any(t["id"] == chased and t["state"] == "acknowledged" for t in mine["tasks"])

        assert await eventually(acknowledged)
        text = await run_tidegate(s, "status")
        escalated_rows = text.stdout.split("escalated tasks")[1].split("overdue tasks")[0]
        assert f"{chased} " not in escalated_rows

    # The worker is gone: the database's picture is shown as such, and the exit says so.
    silent = await run_tidegate(s, "status")
    assert silent.returncode == ExitCode.NOT_ANSWERING, silent.stdout + silent.stderr
    assert "workflow NOT answering" in silent.stdout
    assert "warnings in force: unknown" in silent.stdout
    assert f"{workflow_id} did not answer" in silent.stderr

    no_temporal = s.model_copy(update={"temporal_address": f"127.0.0.1:{free_ports(1)[0]}"})
    out = await run_tidegate(no_temporal, "status", "--json")
    assert out.returncode == ExitCode.UNREACHABLE
    assert "cannot reach Temporal" in out.stderr and "nothing is shown" in out.stderr
    assert json.loads(out.stdout) == {"error": out.stderr.strip().removeprefix("tidegate: ")}
    assert "Traceback" not in out.stderr


def test_status_says_when_the_database_cannot_be_read(settings: Settings) -> None:
    from tests.e2e.harness import tidegate

    dead = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://tidegate:x@127.0.0.1:9/none"}
    )
    out = tidegate(dead, "status")
    assert out.returncode == ExitCode.UNREACHABLE
    assert out.stdout == ""
    assert "the database cannot be reached" in out.stderr and "nothing is shown" in out.stderr
    assert "Traceback" not in out.stderr


async def desk_token(settings: Settings, task_id: str) -> str:
    """A token of an agency desk of the task's agency (``tidegate agency`` needs one)."""
    engine = create_engine(settings.db_url)
    try:
        async with session_maker(engine)() as session:
            row = await task_row(session, task_id)
    finally:
        await engine.dispose()
    assert row is not None
    return await token_of(
        settings, Role.AGENCY_DESK, agency=row.agency, name=f"desk-of-{row.agency}"
    )
