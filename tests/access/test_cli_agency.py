"""``tidegate agency ack|progress|complete|decline`` takes a token and is checked like HTTP:
a desk answers its own agency's tasks only; no token, a bad token: nothing is delivered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from access import accounts
from access.matrix import Role
from cli.agency import app as agency_cli
from cli.exit import ExitCode
from store.models import AuditEntryRecord
from tests.access.conftest import OPERATOR, Delivered, add, add_task
from workflows.tracking import AnswerRoute

Sessions = async_sessionmaker[AsyncSession]
MINE = "response-shanghai-1/drainage.prelower@pudong"
THEIRS = "response-shanghai-1/sanitation.inlets@pudong"


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on the test database, with Temporal stood in for (``delivered`` records)."""
    monkeypatch.setenv("TIDEGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("TIDEGATE_TOKEN", raising=False)

    async def answers(self: Any, *, drill: bool = False) -> AnswerRoute:
        return AnswerRoute(None, self.sessions, "tidegate", drill)  # type: ignore[arg-type]

    monkeypatch.setattr("runtime.services.Runtime.answers", answers)


async def run(*args: str, token: str | None = None) -> tuple[Result, dict[str, Any]]:
    env = {"TIDEGATE_TOKEN": token} if token is not None else {}
    result = await asyncio.to_thread(CliRunner().invoke, agency_cli, [*args, "--json"], env=env)
    return result, json.loads(result.stdout) if result.stdout.strip() else {}


async def test_a_desk_answers_its_own_agencys_tasks_only(
    sessions: Sessions, delivered: Delivered, cli_env: None
) -> None:
    desk = await add(sessions, "pd-drainage", Role.AGENCY_DESK, agency="drainage")
    await add_task(sessions, MINE, "drainage")
    await add_task(sessions, THEIRS, "sanitation")

    theirs, said = await run("ack", THEIRS, token=desk)
    assert theirs.exit_code == ExitCode.FORBIDDEN and said["result"] == "forbidden"
    assert "another agency" in said["detail"]
    assert delivered.answers == []

    mine, said = await run("complete", MINE, "--by", "crew 3", token=desk)
    assert mine.exit_code == 0, mine.output
    assert said["result"] == "delivered"
    assert delivered.answers == [(MINE, "complete", "pd-drainage: crew 3")]

    async with sessions() as session:
        rows = (await session.scalars(select(AuditEntryRecord))).all()
    cli_rows = [
        (r.actor, r.action, r.target, r.outcome) for r in rows if r.source.startswith("cli")
    ]
    assert cli_rows == [
        ("pd-drainage", "refused", THEIRS, "refused"),
        ("pd-drainage", "task.answered", MINE, "ok"),
    ]


async def test_no_token_or_a_bad_token_delivers_nothing(
    sessions: Sessions, delivered: Delivered, cli_env: None
) -> None:
    desk = await add(sessions, "pd-drainage", Role.AGENCY_DESK, agency="drainage")
    duty = await add(sessions, "duty", Role.DUTY_OFFICER)
    await add_task(sessions, MINE, "drainage")

    missing, said = await run("ack", MINE)
    assert missing.exit_code == ExitCode.FORBIDDEN and "TIDEGATE_TOKEN" in said["detail"]
    wrong, said = await run("ack", MINE, token=desk + "x")
    assert wrong.exit_code == ExitCode.FORBIDDEN
    assert "unknown, expired or revoked" in said["detail"]
    officer, said = await run("ack", MINE, token=duty)
    assert officer.exit_code == ExitCode.FORBIDDEN and said["result"] == "forbidden"

    await accounts.revoke_token(sessions, desk.split("_")[1], actor=OPERATOR, source="t")
    revoked, said = await run("ack", MINE, token=desk)
    assert revoked.exit_code == ExitCode.FORBIDDEN and "revoked" in said["detail"]
    assert delivered.answers == []
