"""Accounts, tokens and sessions in the database: nothing stored lets anyone in; revocation,
expiry and disabling act at the next check; repeated failures lock an account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from access import accounts
from access.matrix import Permission, Role
from store.models import AccountRecord, ApiTokenRecord, AuditEntryRecord
from tests.access.conftest import CATALOGUE, OPERATOR, PASSWORD, add

Sessions = async_sessionmaker[AsyncSession]


async def dump(sessions: Sessions) -> str:
    """Every value of every access table, as one string."""
    parts: list[str] = []
    async with sessions() as session:
        for table in ("accounts", "api_tokens", "login_sessions", "audit_trail"):
            for row in (await session.execute(text(f"SELECT * FROM {table}"))).all():
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


async def test_no_password_token_or_session_id_is_stored_in_plain(sessions: Sessions) -> None:
    token = await add(sessions, "zhang", Role.DUTY_OFFICER)
    principal = await accounts.token_principal(sessions, token)
    assert principal is not None
    session_id, _ = await accounts.open_session(
        sessions, principal, lifetime=timedelta(hours=1), source="test"
    )
    stored = await dump(sessions)
    secret = token.rsplit("_", 1)[1]
    for plain in (PASSWORD, token, secret, session_id):
        assert plain not in stored
    async with sessions() as session:
        account = (await session.scalars(select(AccountRecord))).one()
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")


async def test_tokens_work_until_revoked_expired_or_disabled(sessions: Sessions) -> None:
    token = await add(sessions, "desk", Role.AGENCY_DESK, agency="drainage")
    found = await accounts.token_principal(sessions, token)
    assert found is not None and (found.role, found.agency) == (Role.AGENCY_DESK, "drainage")
    assert await accounts.token_principal(sessions, token + "x") is None

    later = datetime.now(UTC) + timedelta(days=accounts.DEFAULT_TOKEN_DAYS, seconds=1)
    assert await accounts.token_principal(sessions, token, now=later) is None

    token_id = token.split("_")[1]
    await accounts.revoke_token(sessions, token_id, actor=OPERATOR, source="test")
    assert await accounts.token_principal(sessions, token) is None  # at once: no cache

    second, _ = await accounts.create_token(sessions, "desk", actor=OPERATOR, source="test")
    assert await accounts.token_principal(sessions, second) is not None
    await accounts.disable_account(sessions, "desk", actor=OPERATOR, source="test")
    assert await accounts.token_principal(sessions, second) is None


async def test_scopes_narrow_a_token_never_widen_it(sessions: Sessions) -> None:
    await add(sessions, "obs", Role.OBSERVER)
    token, _ = await accounts.create_token(
        sessions, "obs", actor=OPERATOR, source="test", scopes=[Permission.STATUS_READ]
    )
    found = await accounts.token_principal(sessions, token)
    assert found is not None and found.scopes == frozenset({Permission.STATUS_READ})
    with pytest.raises(accounts.AccessError, match=r"cannot hold warning\.issue"):
        await accounts.create_token(
            sessions, "obs", actor=OPERATOR, source="test", scopes=[Permission.WARNING_ISSUE]
        )


async def test_bindings_are_checked_against_the_plan(sessions: Sessions) -> None:
    for kwargs, problem in (
        ({"agency": "nope"}, "not an agency of the plan"),
        ({}, "needs --agency"),
    ):
        with pytest.raises(accounts.AccessError, match=problem):
            await accounts.add_account(
                sessions, "x", Role.AGENCY_DESK, catalogue=CATALOGUE, actor=OPERATOR,
                source="t", password=PASSWORD, **kwargs,
            )  # fmt: skip
    with pytest.raises(accounts.AccessError, match="not a district"):
        await accounts.add_account(
            sessions, "x", Role.DISTRICT_OFFICER, catalogue=CATALOGUE, actor=OPERATOR,
            source="t", district="atlantis", password=PASSWORD,
        )  # fmt: skip
    with pytest.raises(accounts.AccessError, match="service account"):
        await accounts.add_account(
            sessions, "scada", Role.AGENCY_SYSTEM, catalogue=CATALOGUE, actor=OPERATOR,
            source="t", agency="drainage", password=PASSWORD,
        )  # fmt: skip
    with pytest.raises(accounts.AccessError, match="at least"):
        await accounts.add_account(
            sessions, "weak", Role.OBSERVER, catalogue=CATALOGUE, actor=OPERATOR, source="t",
            password="short",
        )  # fmt: skip


async def test_repeated_failures_lock_the_account(sessions: Sessions) -> None:
    await add(sessions, "li", Role.DUTY_OFFICER)
    now = datetime.now(UTC)
    for _ in range(accounts.LOCK_AFTER):
        failed = await accounts.password_login(sessions, "li", "wrong", source="t", now=now)
        assert failed.principal is None
    assert failed.locked_until == now + accounts.LOCK_BASE
    locked = await accounts.password_login(sessions, "li", PASSWORD, source="t", now=now)
    assert locked.principal is None and locked.problem == "locked"
    after = now + accounts.LOCK_BASE + timedelta(seconds=1)
    again = await accounts.password_login(sessions, "li", "wrong", source="t", now=after)
    assert again.locked_until == after + 2 * accounts.LOCK_BASE  # backs off: doubled
    later = after + 2 * accounts.LOCK_BASE + timedelta(seconds=1)
    ok = await accounts.password_login(sessions, "li", PASSWORD, source="t", now=later)
    assert ok.principal is not None and ok.principal.name == "li"
    unknown = await accounts.password_login(sessions, "nobody", PASSWORD, source="t")
    assert unknown.principal is None


async def test_sessions_end_at_logout_and_when_the_account_is_disabled(
    sessions: Sessions,
) -> None:
    await add(sessions, "wang", Role.OBSERVER)
    login = await accounts.password_login(sessions, "wang", PASSWORD, source="t")
    assert login.principal is not None
    first, _ = await accounts.open_session(
        sessions, login.principal, lifetime=timedelta(hours=1), source="t"
    )
    assert (await accounts.session_principal(sessions, first)) is not None
    await accounts.close_session(sessions, first, source="t")
    assert await accounts.session_principal(sessions, first) is None
    second, _ = await accounts.open_session(
        sessions, login.principal, lifetime=timedelta(hours=1), source="t"
    )
    await accounts.disable_account(sessions, "wang", actor=OPERATOR, source="t")
    assert await accounts.session_principal(sessions, second) is None
    relogin = await accounts.password_login(sessions, "wang", PASSWORD, source="t")
    assert relogin.principal is None and relogin.problem == "disabled"


async def test_the_audit_trail_refuses_updates_and_deletes(sessions: Sessions) -> None:
    await add(sessions, "zhao", Role.TRAINER)
    for statement in ("UPDATE audit_trail SET actor = 'someone else'", "DELETE FROM audit_trail"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with sessions.begin() as session:
                await session.execute(text(statement))
    async with sessions() as session:
        actors = set((await session.scalars(select(AuditEntryRecord.actor))).all())
        tokens = (await session.scalars(select(ApiTokenRecord))).all()
    assert actors == {"local:test"} and len(tokens) == 1
