"""``tidegate users`` and ``tidegate tokens``: the first admin once, bindings from the plan,
tokens shown once and revocable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from access import accounts
from access.matrix import Role
from cli.main import app

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDEGATE_DATABASE_URL", database_url)


async def run(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_bootstrap_creates_one_admin_once(sessions: Sessions, cli_env: None) -> None:
    first = await run("users", "bootstrap")
    assert first.exit_code == 0, first.output
    assert "first admin created" in first.stderr and "password (shown once)" in first.stderr
    password = first.stderr.split("password (shown once): ")[1].split()[0]
    again = await run("users", "bootstrap")
    assert again.exit_code == 0 and "exists already" in again.stderr
    admins = [a for a in await accounts.list_accounts(sessions) if a.role == Role.ADMIN.value]
    assert [a.name for a in admins] == ["admin"]
    login = await accounts.password_login(sessions, "admin", password, source="t")
    assert login.principal is not None and login.principal.role is Role.ADMIN


async def test_a_development_stack_gets_a_duty_officer_and_a_desk_per_agency(
    sessions: Sessions, cli_env: None, tmp_path: Path
) -> None:
    """What `make run` calls: sign in as `duty` to issue, as `desk-<agency>` to answer."""
    secret_file = tmp_path / "dev-accounts.txt"
    for _ in range(2):  # idempotent: the second run adds nothing and keeps the password
        done = await run("users", "bootstrap", "--dev-accounts", str(secret_file))
        assert done.exit_code == 0, done.output
    assert secret_file.stat().st_mode & 0o077 == 0
    password = secret_file.read_text(encoding="utf-8").strip()
    names = {a.name: a for a in await accounts.list_accounts(sessions)}
    assert names["duty"].role == Role.DUTY_OFFICER.value
    assert names["desk-drainage"].role == Role.AGENCY_DESK.value
    for name in ("duty", "desk-drainage"):
        login = await accounts.password_login(sessions, name, password, source="t")
        assert login.principal is not None and login.principal.name == name


async def test_users_and_tokens(sessions: Sessions, cli_env: None) -> None:
    bad = await run("users", "add", "x", "--role", "agency_desk", "--agency", "nope")
    assert bad.exit_code == 1 and "not an agency of the plan" in bad.stderr
    unknown_role = await run("users", "add", "x", "--role", "king")
    assert unknown_role.exit_code == 2
    added = await run(
        "users", "add", "pd-drainage", "--role", "agency_desk", "--agency", "drainage"
    )
    assert added.exit_code == 0 and "password (shown once)" in added.stdout
    service = await run("users", "add", "scada", "--role", "agency_system", "--agency", "drainage")
    assert service.exit_code == 0 and "password" not in service.stdout

    created = await run("tokens", "create", "scada", "--days", "7", "--json")
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)["token"]
    assert (await accounts.token_principal(sessions, token)) is not None
    listed = await run("tokens", "list", "scada", "--json")
    assert token not in listed.stdout
    assert [t["state"] for t in json.loads(listed.stdout)["tokens"]] == ["active"]

    revoked = await run("tokens", "revoke", token.split("_")[1])
    assert revoked.exit_code == 0
    assert (await accounts.token_principal(sessions, token)) is None
    disabled = await run("users", "disable", "pd-drainage")
    assert disabled.exit_code == 0
    users = json.loads((await run("users", "list", "--json")).stdout)["users"]
    assert {u["name"]: u["state"] for u in users} == {"pd-drainage": "disabled", "scada": "active"}
