"""Who acts at a terminal: the API token a ``tidegate`` command is given.

The commands that act (``tidegate alert issue|update|cancel|import``, ``plan apply``, ``drill
run|schedule``, ``agency ack|progress|complete|decline``) take a token and check it exactly as
:class:`access.http.Gate` checks a bearer token:

* an account's token (``tidegate tokens create``), looked up in the database every time, so a
  revoked or expired token, or a disabled account, fails at once (audited as ``auth.failed``);
* the development token (``TIDEGATE_API_TOKEN``, ``dev-duty-officer-token`` by default),
  acting as the duty officer ``dev-token``, only where the command's services are this
  machine's: Temporal on a loopback address and the database a local SQLite file or on
  loopback. That is the terminal's counterpart of a loopback client: a command run against
  another machine's services needs an account's token.

A scheduled drill started by the worker (:mod:`drills.schedule`) carries no token: it acts as
the account that scheduled it, checked again when it starts (:func:`scheduler_principal`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from access import accounts
from access.audit import auth_failure_note, write_now
from access.matrix import Principal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

NO_TOKEN = (
    "no token: pass --token or set TIDEGATE_TOKEN to your API token (an admin creates it: "
    "tidegate tokens create NAME); on a development machine TIDEGATE_TOKEN="
    "dev-duty-officer-token acts as the duty officer"
)


class Unauthenticated(Exception):
    """No token, or one that is not (or no longer, or not from here) valid; ``reason`` says
    which, for the person at the terminal."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` is this machine (``localhost`` or a loopback address)."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def local_services(temporal_address: str, database_url: str) -> bool:
    """Whether Temporal and the database are this machine's (the development token's rule)."""
    temporal_hosts = [part.strip().rpartition(":")[0] for part in temporal_address.split(",")]
    if not all(is_loopback_host(host) for host in temporal_hosts):
        return False
    try:
        url = make_url(database_url)
    except ArgumentError:
        return False
    if url.get_backend_name() == "sqlite":
        return True
    return url.host is None or is_loopback_host(url.host)  # no host: a local Unix socket


async def token_holder(
    sessions: async_sessionmaker[AsyncSession],
    token: str,
    *,
    dev_token: str | None,
    local: bool,
    source: str,
    target: str,
) -> Principal:
    """The principal whose token a command was given.

    Args:
        sessions: The accounts' database (and the audit trail).
        token: What ``--token`` or ``TIDEGATE_TOKEN`` said.
        dev_token: The development token, if one is configured.
        local: Whether the command's services are this machine's (:func:`local_services`).
        source: Where the command runs, for the audit trail.
        target: What the command is (``alert issue``), for the audit trail.

    Raises:
        Unauthenticated: no token (not audited: nothing was tried), or a wrong, expired or
            revoked one, or the development token with services elsewhere (audited).
    """
    given = token.strip()
    if not given:
        raise Unauthenticated(NO_TOKEN)
    if dev_token and _same(given, dev_token):
        if local:
            return accounts.DEV_PRINCIPAL
        reason = "the development token is honoured only with this machine's services"
        await _failed(sessions, reason, source, target)
        raise Unauthenticated(
            f"{reason} (Temporal and the database on loopback); use an account's token"
        )
    principal = await accounts.token_principal(sessions, given)
    if principal is None:
        await _failed(sessions, "unknown, expired or revoked token", source, target)
        raise Unauthenticated("the token is unknown, expired or revoked")
    return principal


async def scheduler_principal(
    sessions: async_sessionmaker[AsyncSession], name: str, *, source: str, target: str
) -> Principal:
    """The account a scheduled drill acts as: the one that scheduled it, if still enabled.

    Raises:
        Unauthenticated: no such account any more, or it is disabled (audited).
    """
    try:
        account = await accounts.get_account(sessions, name)
    except accounts.AccessError:
        account = None
    if account is None or account.disabled:
        reason = f"the account that scheduled it ({name or 'unknown'}) is gone or disabled"
        await _failed(sessions, reason, source, target)
        raise Unauthenticated(reason)
    return accounts.principal_of(account, via="scheduler")


def _same(given: str, expected: str) -> bool:
    """Constant-time equality, in the length too (both hashed first), as the HTTP gate does."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


async def _failed(
    sessions: async_sessionmaker[AsyncSession], reason: str, source: str, target: str
) -> None:
    await write_now(sessions, auth_failure_note(source=source, target=target, reason=reason))
