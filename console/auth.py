"""Who is asking, and may they: the console's ONLY access-control seam.

Every console page and the agency API ask here, through two FastAPI dependencies:
:func:`current_principal` (who is this, or ``None``) and :func:`require` (a dependency that
refuses a request whose principal lacks a permission). Nothing else in ``console/`` reads a
token, a cookie or a role, so the access-control work (``access/``: users, roles, tokens,
sessions, CSRF) replaces the inside of this module and nothing around it.

Until then this is a shim over the one bearer token tidegate has (``TIDEGATE_API_TOKEN``,
``dev-duty-officer-token`` in development): the token in ``Authorization: Bearer ...`` or in
the cookie the login form sets makes a principal holding every permission, for every agency.
Cookie-authenticated requests that change something must come from the console's own pages
(``Origin``/``Referer`` of the same host), and the cookie is ``SameSite=Strict`` and
``HttpOnly``, which together stand in for CSRF tokens until sessions land.

The permissions the console needs are the :class:`Permission` values below; an agency desk
principal (``agency`` set) may see and answer that agency's tasks only
(:meth:`Principal.may_answer_for`).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request

log = logging.getLogger("tidegate.console")

COOKIE = "tidegate_token"
"""Cookie holding the token the login form was given (``HttpOnly``, ``SameSite=Strict``)."""


class Permission(StrEnum):
    """What a principal may do in the console and the agency API."""

    VIEW_BOARD = "board:view"
    """See the situation board, responses, warnings and the plan."""
    ISSUE_WARNINGS = "warnings:issue"
    """Issue, update and cancel warnings (and preview them)."""
    ANSWER_TASKS = "tasks:answer"
    """Acknowledge, report progress on, complete and decline tasks (of ``agency`` if set)."""
    RUN_DRILLS = "drills:run"
    """Start drills and compare plans."""


@dataclass(frozen=True)
class Principal:
    """Someone the console knows."""

    name: str
    permissions: frozenset[Permission]
    agency: str | None = None
    """An agency desk's agency: it sees and answers only that agency's tasks. ``None``: all."""

    def may(self, permission: Permission) -> bool:
        """Whether the principal holds ``permission``."""
        return permission in self.permissions

    def may_answer_for(self, agency: str) -> bool:
        """Whether the principal may see and answer ``agency``'s tasks."""
        return self.may(Permission.ANSWER_TASKS) and self.agency in (None, agency)


class Unauthenticated(Exception):
    """No (valid) credentials: pages send people to the login form, the API answers 401."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class NotAllowed(Exception):
    """The principal may not do this: pages say which role may, and how to get one; the API
    answers 403."""

    def __init__(self, principal: Principal, permission: Permission, agency: str | None = None):
        super().__init__(f"{principal.name} may not {permission.value}")
        self.principal = principal
        self.permission = permission
        self.agency = agency


ROLE_FOR = {
    Permission.VIEW_BOARD: "duty_officer",
    Permission.ISSUE_WARNINGS: "duty_officer",
    Permission.ANSWER_TASKS: "agency_desk",
    Permission.RUN_DRILLS: "trainer",
}
"""The access-control role that grants each permission (``access.matrix``), for the hint a
refused page gives."""


@dataclass(frozen=True)
class TokenCheck:
    """The shim's whole notion of identity: one shared token, compared in constant time."""

    token: str

    def principal(self, given: str) -> Principal | None:
        """The duty officer for the right token, ``None`` for anything else."""
        expected = hashlib.sha256(self.token.encode()).digest()
        offered = hashlib.sha256(given.encode()).digest()
        if not given or not hmac.compare_digest(expected, offered):
            return None
        return Principal("duty-officer", frozenset(Permission))


def _check(request: Request) -> TokenCheck:
    check = getattr(request.app.state, "console_auth", None)
    if not isinstance(check, TokenCheck):
        raise RuntimeError("console.auth is not installed on this app (console.mount does it)")
    return check


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


GATE_PERMISSIONS = {
    Permission.VIEW_BOARD: "status.read",
    Permission.ISSUE_WARNINGS: "warning.issue",
    Permission.ANSWER_TASKS: "task.answer",
    Permission.RUN_DRILLS: "drill.run",
}
"""The console's permissions in the access-control matrix (``access.matrix.Permission``)."""


async def current_principal(request: Request) -> Principal | None:
    """Who sent this request: from the bearer token, else the login cookie; ``None``: nobody.

    Where the app has the access-control gate (``app.state.gate``, ``access.http.Gate``), it
    decides: its accounts, tokens, sessions and CSRF checks, its roles mapped onto the
    console's permissions by :data:`GATE_PERMISSIONS`. Otherwise the shared token decides, and
    a cookie-authenticated request that changes something must come from this host's pages.
    """
    gate = getattr(request.app.state, "gate", None)
    if gate is not None and hasattr(gate, "principal_or_none"):
        return _from_gate(await gate.principal_or_none(request))
    check = _check(request)
    header = _bearer(request)
    if header:
        return check.principal(header)
    principal = check.principal(request.cookies.get(COOKIE, ""))
    changes = request.method not in ("GET", "HEAD", "OPTIONS")
    if principal is not None and changes and not same_origin(request):
        return None
    return principal


def _from_gate(found: object) -> Principal | None:
    """The gate's principal as the console's: the permissions its role grants.

    ``access`` is imported by name, at run time: the console also runs where it is absent.
    """
    if found is None:
        return None
    matrix: Any = importlib.import_module("access.matrix")
    agency = getattr(found, "agency", None)
    allowed = set()
    for mine, theirs in GATE_PERMISSIONS.items():
        try:
            matrix.authorize(found, matrix.Permission(theirs), agency=agency)
        except matrix.Forbidden:
            continue
        allowed.add(mine)
    return Principal(str(getattr(found, "name", "?")), frozenset(allowed), agency)


async def audit(request: Request, action: str, target: str, outcome: str, **detail: Any) -> None:
    """Note what a principal did in the access-control audit trail, where the app has one
    (the actions of ``access.audit``: ``warning.received``, ``task.answered``,
    ``drill.started``); without the gate, nothing to write to. Never raises: the action
    itself is recorded where it belongs either way."""
    gate = getattr(request.app.state, "gate", None)
    who = getattr(request.state, "principal", None)
    if gate is None or who is None or not hasattr(gate, "audit"):
        return
    try:
        web: Any = importlib.import_module("access.http")
        await gate.audit(
            who, action, target=target[:400], outcome=outcome, source=web.source_of(request),
            channel="console", **detail,
        )  # fmt: skip
    except Exception:
        log.exception("could not write the audit entry for %s %s", action, target)


def same_origin(request: Request) -> bool:
    """Whether a browser says the request comes from a page of this host."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    return bool(source) and urlsplit(source).netloc == host


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the request's principal if it holds ``permission``.

    Raises:
        Unauthenticated: Nobody (pages redirect to the login form; the API answers 401).
        HTTPException: 403 when the principal lacks the permission.
    """

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise Unauthenticated(target)
        if not principal.may(permission):
            raise NotAllowed(principal, permission)
        return principal

    return dependency


async def authenticated(request: Request) -> Principal:
    """A dependency: whoever the request comes from, whatever they may do (the live feed).

    Raises:
        Unauthenticated: Nobody.
    """
    principal = await current_principal(request)
    if principal is None:
        raise Unauthenticated(request.url.path)
    return principal


def login_url(next_url: str) -> str:
    """The login form, coming back to ``next_url`` (a local path only) afterwards."""
    return f"/login?next={quote(safe_next(next_url), safe='/')}"


def safe_next(next_url: str) -> str:
    """``next_url`` if it is a path on this site, else ``/`` (no open redirects)."""
    if not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return next_url


def login(check: TokenCheck, token: str) -> Principal | None:
    """The principal the login form's token stands for, or ``None``."""
    return check.principal(token.strip())
