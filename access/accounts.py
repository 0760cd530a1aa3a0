"""Accounts, API tokens and console sessions in the database; every change audited.

Credentials are checked against the database on every request: a revoked token, a closed
session or a disabled account stops working at the next request, with no cache to expire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from access import credentials
from access.audit import Actor, record
from access.matrix import (
    MATRIX,
    SERVICE_ROLES,
    Permission,
    Principal,
    Role,
    binding_problem,
)
from store.models import AccountRecord, ApiTokenRecord, LoginSessionRecord

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
LOCK_AFTER = 5
"""Consecutive failed logins before an account is locked."""
LOCK_BASE = timedelta(seconds=30)
"""The first lock; each further failure doubles it, up to :data:`LOCK_MAX`."""
LOCK_MAX = timedelta(minutes=15)
_LAST_USED_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token (not one write per request)."""


DEV_PRINCIPAL = Principal(name="dev-token", role=Role.DUTY_OFFICER, via="dev-token")
"""Who the development token (``TIDEGATE_API_TOKEN``) acts as, over HTTP and on the CLI."""


class AccessError(Exception):
    """A request about accounts or tokens that cannot be done; the message says why."""


@dataclass(frozen=True)
class Catalogue:
    """The agencies and districts accounts may be bound to (the plan's)."""

    agencies: frozenset[str]
    districts: frozenset[str]


def _now() -> datetime:
    return datetime.now(UTC)


def principal_of(
    account: AccountRecord, *, via: str, scopes: Iterable[str] | None = None
) -> Principal:
    """The principal an account acts as."""
    return Principal(
        name=account.name,
        role=Role(account.role),
        account_id=account.id,
        agency=account.agency,
        district=account.district,
        scopes=None if scopes is None else frozenset(Permission(s) for s in scopes),
        via=via,
    )


# -- accounts ------------------------------------------------------------------------------
async def add_account(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    role: Role,
    *,
    catalogue: Catalogue,
    actor: Actor,
    source: str,
    agency: str | None = None,
    district: str | None = None,
    password: str | None = None,
) -> AccountRecord:
    """Create an account. A person gets a password (hashed); a service account none.

    Raises:
        AccessError: a bad name, binding, password, or a name already taken.
    """
    problem = binding_problem(role, agency=agency, district=district)
    if not name or len(name) > 100 or not name.isprintable() or " " in name:
        problem = "a name is 1-100 printable characters without spaces"
    elif agency and agency not in catalogue.agencies:
        problem = (
            f"{agency!r} is not an agency of the plan ({', '.join(sorted(catalogue.agencies))})"
        )
    elif district and district not in catalogue.districts:
        problem = (
            f"{district!r} is not a district of the plan ({', '.join(sorted(catalogue.districts))})"
        )
    elif password is not None and role in SERVICE_ROLES:
        problem = f"a {role.value} is a service account: it has tokens, not a password"
    elif password is not None and not problem:
        problem = credentials.password_problem(password)
    if problem:
        raise AccessError(problem)
    now = _now()
    async with sessions.begin() as session:
        if await _account(session, name) is not None:
            raise AccessError(f"an account {name!r} exists already")
        account = AccountRecord(
            name=name,
            role=role.value,
            agency=agency,
            district=district,
            password_hash=credentials.hash_password(password) if password else None,
            disabled=False,
            failed_logins=0,
            created_at=now,
            updated_at=now,
        )
        session.add(account)
        await session.flush()
        await record(
            session,
            actor,
            "user.added",
            target=name,
            source=source,
            at=now,
            role=role.value,
            agency=agency,
            district=district,
        )
    return account


async def list_accounts(sessions: async_sessionmaker[AsyncSession]) -> list[AccountRecord]:
    """Every account, by name."""
    async with sessions() as session:
        return list(await session.scalars(select(AccountRecord).order_by(AccountRecord.name)))


async def get_account(sessions: async_sessionmaker[AsyncSession], name: str) -> AccountRecord:
    """The account called ``name``.

    Raises:
        AccessError: there is none.
    """
    async with sessions() as session:
        account = await _account(session, name)
    if account is None:
        raise AccessError(f"no account {name!r}")
    return account


async def disable_account(
    sessions: async_sessionmaker[AsyncSession], name: str, *, actor: Actor, source: str
) -> None:
    """Disable an account: its tokens and sessions stop working at once (checked per request).

    Raises:
        AccessError: no such account.
    """
    now = _now()
    async with sessions.begin() as session:
        account = await _account(session, name)
        if account is None:
            raise AccessError(f"no account {name!r}")
        account.disabled = True
        account.updated_at = now
        await session.execute(
            update(LoginSessionRecord)
            .where(LoginSessionRecord.account_id == account.id)
            .where(LoginSessionRecord.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await record(session, actor, "user.disabled", target=name, source=source, at=now)


async def set_password(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    password: str,
    *,
    actor: Actor,
    source: str,
) -> None:
    """Set a person's password (and unlock the account).

    Raises:
        AccessError: no such account, a service account, or a weak password.
    """
    problem = credentials.password_problem(password)
    if problem:
        raise AccessError(problem)
    async with sessions.begin() as session:
        account = await _account(session, name)
        if account is None:
            raise AccessError(f"no account {name!r}")
        if Role(account.role) in SERVICE_ROLES:
            raise AccessError(f"{name!r} is a service account: it has tokens, not a password")
        account.password_hash = credentials.hash_password(password)
        account.failed_logins = 0
        account.locked_until = None
        account.updated_at = _now()
        await record(session, actor, "user.password_set", target=name, source=source)


async def _account(session: AsyncSession, name: str) -> AccountRecord | None:
    found = await session.scalars(select(AccountRecord).where(AccountRecord.name == name))
    return found.one_or_none()


# -- tokens --------------------------------------------------------------------------------
async def create_token(
    sessions: async_sessionmaker[AsyncSession],
    account_name: str,
    *,
    actor: Actor,
    source: str,
    label: str = "",
    days: int = DEFAULT_TOKEN_DAYS,
    scopes: Iterable[Permission] | None = None,
) -> tuple[str, ApiTokenRecord]:
    """Create a token for an account; returns the token (show it once; it is not kept).

    Raises:
        AccessError: no such account, a disabled one, a bad lifetime, or scopes outside the
            account's role.
    """
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise AccessError(f"a token lives 1 to {MAX_TOKEN_DAYS} days, not {days}")
    now = _now()
    async with sessions.begin() as session:
        account = await _account(session, account_name)
        if account is None:
            raise AccessError(f"no account {account_name!r}")
        if account.disabled:
            raise AccessError(f"account {account_name!r} is disabled")
        narrowed = None if scopes is None else sorted({p.value for p in scopes})
        if narrowed is not None:
            beyond = [s for s in narrowed if Permission(s) not in MATRIX[Role(account.role)]]
            if beyond:
                raise AccessError(f"a {account.role} cannot hold {', '.join(beyond)}")
        token, token_id = credentials.new_token()
        row = ApiTokenRecord(
            id=token_id,
            account_id=account.id,
            label=label[:100],
            token_hash=credentials.digest(token),
            scopes=narrowed,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        session.add(row)
        await record(
            session,
            actor,
            "token.created",
            target=f"{account_name}/{token_id}",
            source=source,
            at=now,
            expires_at=row.expires_at.isoformat(),
            scopes=narrowed,
        )
    return token, row


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: str
    account: str
    label: str
    scopes: list[str] | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


async def list_tokens(
    sessions: async_sessionmaker[AsyncSession], account_name: str | None = None
) -> list[TokenInfo]:
    """Tokens (of one account, or all), newest first."""
    query = (
        select(ApiTokenRecord, AccountRecord.name)
        .join(AccountRecord, AccountRecord.id == ApiTokenRecord.account_id)
        .order_by(ApiTokenRecord.created_at.desc())
    )
    if account_name is not None:
        query = query.where(AccountRecord.name == account_name)
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        TokenInfo(
            t.id,
            name,
            t.label,
            t.scopes,
            t.created_at,
            t.expires_at,
            t.revoked_at,
            t.last_used_at,
        )
        for t, name in rows
    ]


async def revoke_token(
    sessions: async_sessionmaker[AsyncSession],
    token_id: str,
    *,
    actor: Actor,
    source: str,
    owner_id: int | None = None,
) -> None:
    """Revoke a token by its id; it stops working at the next request.

    Args:
        owner_id: Only revoke it if it belongs to this account (a user revoking their own).

    Raises:
        AccessError: no such token (or not the owner's).
    """
    now = _now()
    async with sessions.begin() as session:
        row = await session.get(ApiTokenRecord, token_id)
        if row is None or (owner_id is not None and row.account_id != owner_id):
            raise AccessError(f"no token {token_id!r}")
        if row.revoked_at is None:
            row.revoked_at = now
        await record(session, actor, "token.revoked", target=token_id, source=source, at=now)


async def token_principal(
    sessions: async_sessionmaker[AsyncSession], token: str, *, now: datetime | None = None
) -> Principal | None:
    """The principal of a valid token, or ``None`` (malformed, unknown, expired, revoked,
    or its account disabled). Reads the database every time."""
    token_id = credentials.token_id(token)
    if token_id is None:
        return None
    now = now or _now()
    async with sessions() as session:
        found = (
            await session.execute(
                select(ApiTokenRecord, AccountRecord)
                .join(AccountRecord, AccountRecord.id == ApiTokenRecord.account_id)
                .where(ApiTokenRecord.id == token_id)
            )
        ).one_or_none()
        if found is None:
            credentials.same_digest(token, "0" * 64)  # spend the same time as a real check
            return None
        row, account = found
        if not credentials.same_digest(token, row.token_hash):
            return None
        if row.revoked_at is not None or row.expires_at <= now or account.disabled:
            return None
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_EVERY:
            await session.execute(
                update(ApiTokenRecord).where(ApiTokenRecord.id == token_id).values(last_used_at=now)
            )
            await session.commit()
    return principal_of(account, via="token", scopes=row.scopes)


# -- password logins and sessions ----------------------------------------------------------
@dataclass(frozen=True)
class LoginResult:
    """What a password login attempt came to."""

    principal: Principal | None
    problem: str = ""
    """Why it failed, for the audit trail (the user is told less)."""
    locked_until: datetime | None = None


async def password_login(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    password: str,
    *,
    source: str,
    now: datetime | None = None,
) -> LoginResult:
    """Check a name and password, with lock-out after :data:`LOCK_AFTER` failures; audited."""
    now = now or _now()
    async with sessions.begin() as session:
        account = await _account(session, name)
        if account is None:
            credentials.verify_password(None, password)  # same time as a wrong password
            result = LoginResult(None, "unknown account")
        elif account.locked_until is not None and account.locked_until > now:
            result = LoginResult(None, "locked", account.locked_until)
        elif not credentials.verify_password(account.password_hash, password):
            account.failed_logins += 1
            if account.failed_logins >= LOCK_AFTER:
                backoff = LOCK_BASE * 2 ** (account.failed_logins - LOCK_AFTER)
                account.locked_until = now + min(backoff, LOCK_MAX)
            result = LoginResult(None, "wrong password", account.locked_until)
        elif account.disabled:
            result = LoginResult(None, "disabled")
        else:
            account.failed_logins = 0
            account.locked_until = None
            if account.password_hash and credentials.needs_rehash(account.password_hash):
                account.password_hash = credentials.hash_password(password)
            result = LoginResult(principal_of(account, via="session"))
        if result.principal is None:
            who = Actor(name[:100], account.role if account else "unknown")
            await record(
                session,
                who,
                "login.failed",
                target=name[:100],
                outcome="refused",
                source=source,
                at=now,
                reason=result.problem,
            )
        else:
            await record(
                session,
                result.principal,
                "login",
                target=name,
                source=source,
                at=now,
                method="password",
            )
    return result


@dataclass(frozen=True)
class SessionInfo:
    """A live console session."""

    principal: Principal
    csrf_token: str
    expires_at: datetime


async def open_session(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    *,
    lifetime: timedelta,
    source: str,
) -> tuple[str, SessionInfo]:
    """Start a console session; returns the cookie value (kept only hashed) and the session."""
    if principal.account_id is None:
        raise AccessError("only accounts can open console sessions")
    session_id = credentials.new_session_id()
    now = _now()
    info = SessionInfo(principal, credentials.new_csrf_token(), now + lifetime)
    async with sessions.begin() as session:
        session.add(
            LoginSessionRecord(
                id_hash=credentials.digest(session_id),
                account_id=principal.account_id,
                csrf_token=info.csrf_token,
                created_at=now,
                expires_at=info.expires_at,
                source=source[:100],
            )
        )
    return session_id, info


async def session_principal(
    sessions: async_sessionmaker[AsyncSession], session_id: str, *, now: datetime | None = None
) -> SessionInfo | None:
    """The live session of a cookie value, or ``None`` (unknown, expired, closed, disabled)."""
    if not session_id or len(session_id) > 100:
        return None
    now = now or _now()
    async with sessions() as session:
        found = (
            await session.execute(
                select(LoginSessionRecord, AccountRecord)
                .join(AccountRecord, AccountRecord.id == LoginSessionRecord.account_id)
                .where(LoginSessionRecord.id_hash == credentials.digest(session_id))
            )
        ).one_or_none()
    if found is None:
        return None
    row, account = found
    if row.revoked_at is not None or row.expires_at <= now or account.disabled:
        return None
    return SessionInfo(principal_of(account, via="session"), row.csrf_token, row.expires_at)


async def close_session(
    sessions: async_sessionmaker[AsyncSession], session_id: str, *, source: str
) -> None:
    """Log out: the session stops working at once."""
    now = _now()
    async with sessions.begin() as session:
        row = await session.get(LoginSessionRecord, credentials.digest(session_id))
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = now
        account = await session.get(AccountRecord, row.account_id)
        if account is not None:
            await record(
                session,
                Actor.of(principal_of(account, via="session")),
                "logout",
                target=account.name,
                source=source,
                at=now,
            )


async def link_oidc(
    sessions: async_sessionmaker[AsyncSession],
    subject: str,
    username: str,
    *,
    source: str,
) -> Principal | None:
    """The account an identity provider's user logs in as, or ``None``.

    An account linked to ``subject`` (``issuer|sub``) is that user's; otherwise the account
    whose name is ``username`` is linked to it at this first login, unless it is already
    linked to another subject or is a service account. Roles stay tidegate's: the provider
    proves who someone is, tidegate's accounts say what they may do.
    """
    async with sessions.begin() as session:
        found = await session.scalars(
            select(AccountRecord).where(AccountRecord.oidc_subject == subject)
        )
        account = found.one_or_none()
        if account is None:
            account = await _account(session, username)
            if (
                account is None
                or account.oidc_subject is not None
                or Role(account.role) in SERVICE_ROLES
            ):
                await record(
                    session,
                    Actor(username[:100] or "?", "unknown"),
                    "login.failed",
                    target=subject[:400],
                    outcome="refused",
                    source=source,
                    method="oidc",
                    reason="no account to link" if account is None else "not linkable",
                )
                return None
            account.oidc_subject = subject
            account.updated_at = _now()
        if account.disabled:
            await record(
                session,
                Actor(account.name, account.role),
                "login.failed",
                target=account.name,
                outcome="refused",
                source=source,
                method="oidc",
                reason="disabled",
            )
            return None
        await record(
            session,
            Actor(account.name, account.role),
            "login",
            target=account.name,
            source=source,
            method="oidc",
            subject=subject,
        )
        return principal_of(account, via="session")
