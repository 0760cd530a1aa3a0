"""Authentication for every HTTP route: one FastAPI dependency, :meth:`Gate.require`.

A request proves who it is with one of:

* ``Authorization: Bearer <token>``: an API token (``tidegate tokens create``), checked
  against the database on every request, so a revoked token fails at once; or the
  development token (``TIDEGATE_API_TOKEN``), accepted from loopback clients only and acting
  as the duty officer ``dev-token``;
* the console's session cookie (``tidegate_session``, set by ``POST /login``); an expired or
  closed session counts as no credential, so pages can send the browser to sign in. A request that
  changes something with the cookie must also carry the session's CSRF token (form field
  ``csrf_token`` or header ``X-CSRF-Token``); bearer requests need none, since browsers never
  add an ``Authorization`` header on their own.

:meth:`Gate.require` then asks :func:`access.matrix.authorize` for the route's permission;
routes that need the resource first (a task's agency, a warning's areas) call
:meth:`Gate.check` with it. A refusal is a 403 and an audit entry; a bad credential a 401
(audited, at most :attr:`GateConfig.failures_per_minute` per client address, then 429).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from access import accounts
from access.accounts import DEV_PRINCIPAL
from access.audit import (
    Actor,
    auth_failure_note,
    authorize_audited,
    record_now,
    refusal_note,
    write_now,
)
from access.limits import RateLimiter
from access.matrix import Forbidden, Permission, Principal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tidegate.access")

SESSION_COOKIE = "tidegate_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BEARER = HTTPBearer(auto_error=False, description="An API token (tidegate tokens create)")


@dataclass(frozen=True)
class GateConfig:
    """Knobs of the gate (from :class:`config.settings.Settings` in ``tidegate serve``)."""

    dev_token: str | None = None
    """The development token, honoured from loopback clients only; ``None``: none."""
    session_hours: float = 12.0
    login_per_minute: int = 10
    """Login attempts per client address and per account name."""
    intake_per_minute: int = 120
    """``POST /alerts`` per principal."""
    failures_per_minute: int = 30
    """Bad credentials per client address before 429 (and no more audit entries)."""
    secure_cookies: bool | None = None
    """Mark cookies ``Secure``: ``None`` decides per request (https or not)."""


def client_address(request: Request) -> str:
    """The client's address as uvicorn saw it (after trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


def source_of(request: Request) -> str:
    """``http <address>``: where a request came from, for the audit trail."""
    return f"http {client_address(request)}"


def is_loopback_address(host: str) -> bool:
    """Whether a client address is this machine's."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")  # Starlette's TestClient calls itself this


class Gate:
    """Authenticates requests and asks the matrix; built once per app."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession] | None, config: GateConfig | None = None
    ) -> None:
        """Args:
        sessions: The database of accounts, tokens, sessions and the audit trail; ``None``
            for an app that knows only the development token (unit tests of the routes).
        config: Limits, cookies and the development token.
        """
        self.sessions = sessions
        self.config = config or GateConfig()
        dev = self.config.dev_token
        self._dev_digest = hashlib.sha256(dev.encode()).digest() if dev else None
        self.login_limit = RateLimiter(self.config.login_per_minute)
        self.intake_limit = RateLimiter(self.config.intake_per_minute)
        self._failure_limit = RateLimiter(self.config.failures_per_minute)

    # -- who is asking ---------------------------------------------------------------------
    async def principal_or_none(self, request: Request) -> Principal | None:
        """The authenticated principal, ``None`` if the request carries no credential.

        Raises:
            HTTPException: 401 for a credential that is wrong, expired or revoked; 403 for a
                cookie request that changes something without the session's CSRF token.
        """
        cached = getattr(request.state, "principal", None)
        if isinstance(cached, Principal):
            return cached
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        principal: Principal | None
        if header:
            if scheme.lower() != "bearer" or not given.strip():
                await self._unauthenticated(request, "malformed Authorization header")
            principal = await self._bearer(request, given.strip())
        elif request.cookies.get(SESSION_COOKIE):
            principal = await self._session(request, request.cookies[SESSION_COOKIE])
        else:
            return None
        if principal is not None:
            request.state.principal = principal
        return principal

    async def authenticate(self, request: Request) -> Principal:
        """The principal; 401 if the request carries no valid credential."""
        principal = await self.principal_or_none(request)
        if principal is None:
            raise HTTPException(
                401, "missing bearer token or session", headers={"WWW-Authenticate": "Bearer"}
            )
        return principal

    async def _bearer(self, request: Request, token: str) -> Principal:
        if self._dev_digest is not None:
            given = hashlib.sha256(token.encode()).digest()
            # Hashing first makes the comparison constant-time in the token's length as well.
            if hmac.compare_digest(given, self._dev_digest):
                if not is_loopback_address(client_address(request)):
                    await self._unauthenticated(request, "development token off loopback")
                return DEV_PRINCIPAL
        principal = None
        if self.sessions is not None:
            principal = await accounts.token_principal(self.sessions, token)
        if principal is None:
            await self._unauthenticated(request, "unknown, expired or revoked token")
        assert principal is not None
        return principal

    async def _session(self, request: Request, session_id: str) -> Principal | None:
        info = None
        if self.sessions is not None:
            info = await accounts.session_principal(self.sessions, session_id)
        if info is None:
            return None  # an expired or closed session is routine: sign in again, no alarm
        request.state.csrf_token = info.csrf_token
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent and "form" in request.headers.get("content-type", ""):
                form = await request.form()
                field = form.get(CSRF_FIELD)
                sent = field if isinstance(field, str) else ""
            if not hmac.compare_digest(sent.encode(), info.csrf_token.encode()):
                await self._refuse(request, info.principal, None, "missing or wrong CSRF token")
        return info.principal

    async def _unauthenticated(self, request: Request, reason: str) -> None:
        address = client_address(request)
        wait = self._failure_limit.hit(address)
        if wait is not None:
            raise HTTPException(429, "too many failed attempts", {"Retry-After": f"{wait:.0f}"})
        target = f"{request.method} {request.url.path}"
        note = auth_failure_note(source=source_of(request), target=target, reason=reason)
        await write_now(self.sessions, note)
        raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})

    # -- what they may do ------------------------------------------------------------------
    def require(
        self, permission: Permission | None = None
    ) -> Callable[[Request, Any], Awaitable[Principal]]:
        """A dependency: the authenticated principal, holding ``permission`` (if given).

        Routes whose decision needs the resource call :meth:`check` with it as well.
        """

        async def dependency(
            request: Request,
            _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        ) -> Principal:
            principal = await self.authenticate(request)
            if permission is not None:
                await self.check(request, principal, permission)
            return principal

        return dependency

    async def check(
        self,
        request: Request,
        principal: Principal,
        permission: Permission,
        *,
        agency: str | None = None,
        districts: Iterable[str] | None = None,
    ) -> None:
        """:func:`access.matrix.authorize`, with a refusal turned into an audited 403."""
        try:
            await authorize_audited(
                self.sessions, principal, permission, agency=agency, districts=districts,
                target=f"{request.method} {request.url.path}", source=source_of(request),
            )  # fmt: skip
        except Forbidden as exc:
            raise HTTPException(403, exc.reason) from None

    async def _refuse(
        self, request: Request, principal: Principal, permission: Permission | None, reason: str
    ) -> None:
        note = refusal_note(
            principal, source=source_of(request), target=f"{request.method} {request.url.path}",
            permission=permission, reason=reason,
        )  # fmt: skip
        await write_now(self.sessions, note)
        raise HTTPException(403, reason)

    async def audit(self, actor: Actor | Principal, action: str, **fields: Any) -> None:
        """Append to the audit trail (only logged when the gate has no database)."""
        await record_now(self.sessions, actor, action, **fields)

    def limit(self, limiter: RateLimiter, key: str) -> None:
        """429 with ``Retry-After`` if ``key`` is over ``limiter``'s rate."""
        wait = limiter.hit(key)
        if wait is not None:
            raise HTTPException(
                429, "too many requests; slow down", headers={"Retry-After": f"{wait:.0f}"}
            )

    def secure(self, request: Request) -> bool:
        """Whether cookies set on this request's response get ``Secure``."""
        if self.config.secure_cookies is not None:
            return self.config.secure_cookies
        return request.url.scheme == "https"


# -- headers and logs ----------------------------------------------------------------------
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
_API_DOCS = ("/docs", "/redoc")
"""FastAPI's documentation pages load their scripts from a CDN: no page CSP for them."""


class SecurityHeaders:
    """ASGI middleware: security headers on every response, a strict CSP on HTML pages.

    Pure ASGI rather than ``BaseHTTPMiddleware``, so request bodies still stream to the
    intake's read timeout untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                }
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html") and not path.startswith(_API_DOCS):
                    extra[b"content-security-policy"] = _PAGE_CSP.encode()
                    extra[b"cache-control"] = b"no-store"
                if https:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:code|state|token|password|session)=)[^&\s\"]*", re.I)


class RedactSecrets(logging.Filter):
    """Blank credentials out of log lines (the access log prints query strings, and an OIDC
    callback carries its one-time code there); tokens are never logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        record.msg = _SECRET_QUERY.sub(r"\1[redacted]", str(record.msg))
        return True


def redact_access_log() -> None:
    """Install :class:`RedactSecrets` on uvicorn's access and error loggers."""
    for name in ("uvicorn.access", "uvicorn.error", "tidegate.http"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
