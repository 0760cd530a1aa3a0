"""Audit completeness: every action of a scripted scenario appears once in the export, with
who, role, what and from where; and ``tidegate audit export`` writes it as CSV and JSON."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from access import accounts, audit
from access.matrix import Role
from cli.audit import app as audit_cli
from tests.access.conftest import OPERATOR, PASSWORD, Delivered, add, add_task, bearer
from tests.access.test_http import issue

Sessions = async_sessionmaker[AsyncSession]
MINE = "response-shanghai-1/drainage.prelower@pudong"
THEIRS = "response-shanghai-1/sanitation.inlets@pudong"


async def test_every_action_of_a_scenario_is_exported_once(
    sessions: Sessions,
    client: httpx.AsyncClient,
    delivered: Delivered,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    duty = await add(sessions, "duty", Role.DUTY_OFFICER)
    observer = await add(sessions, "obs", Role.OBSERVER)
    desk = await add(sessions, "desk", Role.AGENCY_DESK, agency="drainage")
    await add(sessions, "hq", Role.HQ_COMMANDER)
    await add_task(sessions, MINE, "drainage")
    await add_task(sessions, THEIRS, "sanitation")

    assert await issue(client, duty, "w-1", ["pudong"]) == 200
    assert await issue(client, observer, "w-2", ["pudong"]) == 403
    assert (
        await client.post(f"/agency/tasks/{MINE}/acknowledge", headers=bearer(desk))
    ).status_code == 200
    assert (
        await client.post(f"/agency/tasks/{THEIRS}/acknowledge", headers=bearer(desk))
    ).status_code == 403

    form = await client.get("/login")
    found = re.search(r"name=csrf_token value='([^']+)'", form.text)
    assert found is not None
    bad = await client.post(
        "/login", data={"name": "hq", "password": "x", "csrf_token": found.group(1)}
    )
    found = re.search(r"name=csrf_token value='([^']+)'", bad.text)
    assert found is not None
    good = await client.post(
        "/login", data={"name": "hq", "password": PASSWORD, "csrf_token": found.group(1)}
    )
    assert good.status_code == 303
    csrf = (await client.get("/me")).json()["csrf_token"]
    assert (await client.post("/logout", data={"csrf_token": csrf})).status_code == 303
    client.cookies.clear()

    await accounts.revoke_token(sessions, desk.split("_")[1], actor=OPERATOR, source="cli test")
    assert (
        await client.post(f"/agency/tasks/{MINE}/complete", headers=bearer(desk))
    ).status_code == 401
    await accounts.disable_account(sessions, "obs", actor=OPERATOR, source="cli test")

    rows = await audit.entries(sessions)
    got = sorted((e.actor, e.role, e.action, e.target, e.outcome) for e in rows)
    op = ("local:test", "operator")
    names = ("duty", "obs", "desk", "hq")
    created = [e.target for e in rows if e.action == "token.created"]
    answer_again = f"POST /agency/tasks/{MINE}/complete"
    expected = sorted(
        [
            *[(*op, "user.added", n, "ok") for n in names],
            *[(*op, "token.created", target, "ok") for target in created],
            ("duty", "duty_officer", "warning.received", "w-1", "ok"),
            ("obs", "observer", "refused", "POST /alerts", "refused"),
            ("desk", "agency_desk:drainage", "task.answered", MINE, "ok"),
            ("desk", "agency_desk:drainage", "refused", THEIRS, "refused"),
            ("hq", "hq_commander", "login.failed", "hq", "refused"),
            ("hq", "hq_commander", "login", "hq", "ok"),
            ("hq", "hq_commander", "logout", "hq", "ok"),
            ("local:test", "operator", "token.revoked", desk.split("_")[1], "ok"),
            ("anonymous", "anonymous", "auth.failed", answer_again, "refused"),
            ("local:test", "operator", "user.disabled", "obs", "ok"),
        ]
    )  # fmt: skip
    assert sorted(t.split("/")[0] for t in created) == sorted(names)
    assert got == expected
    assert all(e.source.startswith(("http ", "cli ", "test")) for e in rows)
    answered = next(e for e in rows if e.action == "task.answered")
    assert answered.detail["by"] == "desk" and answered.source == "http 127.0.0.1"

    monkeypatch.setenv("TIDEGATE_DATABASE_URL", database_url)
    runner = CliRunner()
    # The CLI runs its own event loop: in a thread of its own, as from a terminal.
    as_csv = await asyncio.to_thread(
        runner.invoke, audit_cli, ["export", "--since", "1h", "--format", "csv"]
    )
    assert as_csv.exit_code == 0, as_csv.output
    exported = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["id"] for r in exported] == [str(e.id) for e in rows]
    as_json = await asyncio.to_thread(runner.invoke, audit_cli, ["export", "--format", "json"])
    assert [e["action"] for e in json.loads(as_json.stdout)["entries"]] == [e.action for e in rows]


async def test_an_action_seen_twice_is_written_once(sessions: Sessions) -> None:
    """A Kafka record read again after a crash carries the same key: one entry, not two."""
    feed = audit.Actor("kafka:tidegate.alerts", audit.FEED)
    again = audit.warning_note(
        feed, source="kafka:tidegate.alerts", alert=None, outcome="failed", reason="bad",
        key="kafka:tidegate.alerts:0:7",
    )  # fmt: skip
    other = audit.auth_failure_note(source="cli x@y", target="tidegate alert issue", reason="?")
    await audit.write_now(sessions, again)
    await audit.write_now(sessions, again, other, other)
    rows = await audit.entries(sessions)
    assert [(e.action, e.outcome) for e in rows] == [
        ("warning.received", "failed"),
        ("auth.failed", "refused"),
        ("auth.failed", "refused"),
    ]
