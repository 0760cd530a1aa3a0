"""Browser login and the access API: ``/login``, ``/logout``, ``/me``, ``/audit``, ``/tokens``.

``POST /login`` checks a name and password (:func:`access.accounts.password_login`: lock-out
after repeated failures, audited), rate-limited per client address and per name, and sets the
session cookie: ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over https, holding a random id
the database keeps only hashed. The login form is protected against login CSRF by a
double-submit cookie; every later form carries the session's CSRF token (checked by
:class:`access.http.Gate`). With OpenID Connect configured, ``/login/oidc`` signs in through
the city's identity provider instead (:mod:`access.oidc`).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from access import accounts, audit, credentials
from access.http import SESSION_COOKIE, Gate, client_address, source_of
from access.matrix import MATRIX, Permission, Principal

if TYPE_CHECKING:
    from access.oidc import OidcLogin

LOGIN_CSRF_COOKIE = "tidegate_login_csrf"
AFTER_LOGIN = "/"


def safe_next(next_url: str) -> str:
    """``next_url`` if it is a path on this site, else ``/`` (no open redirects)."""
    if not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return AFTER_LOGIN
    return next_url


def set_session_cookie(
    gate: Gate, request: Request, response: Response, session_id: str, expires: datetime
) -> None:
    """The console's session cookie on ``response``."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int((expires - datetime.now(UTC)).total_seconds()),
        httponly=True,
        secure=gate.secure(request),
        samesite="strict",
        path="/",
    )


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} · tidegate</title>"
        "<meta name=viewport content='width=device-width, initial-scale=1'></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>",
        status_code=status,
    )


def _login_form(next_url: str, csrf: str, problem: str, oidc: bool) -> str:
    note = f"<p role=alert><strong>{escape(problem)}</strong></p>" if problem else ""
    provider = (
        f"<p><a href='/login/oidc?next={escape(next_url)}'>Sign in with the city's identity "
        "provider</a></p>"
        if oidc
        else ""
    )
    return (
        f"{note}<form method=post action=/login>"
        f"<input type=hidden name=csrf_token value='{escape(csrf)}'>"
        f"<input type=hidden name=next value='{escape(next_url)}'>"
        "<p><label>Name <input name=name autocomplete=username required></label></p>"
        "<p><label>Password <input name=password type=password "
        "autocomplete=current-password required></label></p>"
        f"<p><button>Sign in</button></p></form>{provider}"
    )


def access_router(gate: Gate, oidc: OidcLogin | None = None) -> APIRouter:
    """Login, logout, who-am-I, the audit trail and one's own tokens."""
    router = APIRouter(tags=["access"])
    sessions = gate.sessions
    assert sessions is not None, "the access routes need the accounts database"
    lifetime = timedelta(hours=gate.config.session_hours)
    authenticated = Depends(gate.require())
    may_audit = Depends(gate.require(Permission.AUDIT_READ))
    own_tokens = Depends(gate.require(Permission.TOKENS_OWN))

    def login_page(
        request: Request, next_url: str, problem: str = "", status: int = 200
    ) -> HTMLResponse:
        csrf = credentials.new_csrf_token()
        page = _page("Sign in", _login_form(safe_next(next_url), csrf, problem, oidc is not None))
        page.status_code = status
        page.set_cookie(
            LOGIN_CSRF_COOKIE, csrf, max_age=3600, httponly=True,
            secure=gate.secure(request), samesite="strict", path="/login",
        )  # fmt: skip
        return page

    @router.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = AFTER_LOGIN) -> HTMLResponse:
        return login_page(request, next)

    @router.post("/login", include_in_schema=False)
    async def login_submit(
        request: Request,
        name: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = AFTER_LOGIN,
    ) -> Response:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
            return login_page(request, next, "The form expired; please sign in again.", 403)
        for key in (f"ip:{client_address(request)}", f"name:{name[:100]}"):
            if gate.login_limit.hit(key) is not None:
                return login_page(request, next, "Too many attempts; wait a minute.", 429)
        result = await accounts.password_login(
            sessions, name[:100], password, source=source_of(request)
        )
        if result.principal is None:
            problem = "Wrong name or password. Repeated failures lock the account for a while."
            return login_page(request, next, problem, 401)
        return await start_session(request, result.principal, next)

    async def start_session(request: Request, principal: Principal, next_url: str) -> Response:
        session_id, info = await accounts.open_session(
            sessions, principal, lifetime=lifetime, source=source_of(request)
        )
        response = RedirectResponse(safe_next(next_url), status_code=303)
        set_session_cookie(gate, request, response, session_id, info.expires_at)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request, who: Principal = authenticated) -> Response:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            await accounts.close_session(sessions, session_id, source=source_of(request))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/me")
    async def me(request: Request, who: Principal = authenticated) -> dict[str, Any]:
        """Who the credential belongs to, and what it may do."""
        allowed = sorted(p.value for p in MATRIX[who.role] if who.scopes is None or p in who.scopes)
        return {
            "name": who.name,
            "role": who.role.value,
            "agency": who.agency,
            "district": who.district,
            "via": who.via,
            "permissions": allowed,
            "csrf_token": getattr(request.state, "csrf_token", None),
        }

    @router.get("/audit", responses={200: {"content": {"text/csv": {}}}})
    async def audit_trail(
        since: datetime | None = None,
        until: datetime | None = None,
        format: str = "json",
        limit: int = 1000,
        who: Principal = may_audit,
    ) -> Response:
        """The audit trail (admins and HQ commanders): ``format=json`` or ``csv``."""
        if format not in ("json", "csv"):
            raise HTTPException(422, "format is json or csv")
        rows = await audit.entries(
            sessions, since=_aware(since), until=_aware(until), limit=min(max(limit, 1), 10_000)
        )
        if format == "csv":
            return PlainTextResponse(audit.to_csv(rows), media_type="text/csv")
        return Response(audit.to_json(rows), media_type="application/json")

    @router.post("/tokens", status_code=201)
    async def create_own_token(
        request: Request, label: str = "", days: int = 30, who: Principal = own_tokens
    ) -> dict[str, Any]:
        """A new API token for oneself (shown once)."""
        try:
            token, row = await accounts.create_token(
                sessions, who.name, actor=audit.Actor.of(who), source=source_of(request),
                label=label, days=days, scopes=who.scopes,
            )  # fmt: skip
        except accounts.AccessError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": row.id, "token": token, "expires_at": row.expires_at.isoformat()}

    @router.delete("/tokens/{token_id}", status_code=204)
    async def revoke_own_token(
        request: Request, token_id: str, who: Principal = own_tokens
    ) -> Response:
        """Revoke one of one's own tokens (an admin: anyone's)."""
        owner = who.account_id
        if Permission.USERS_MANAGE not in MATRIX[who.role] and owner is None:
            raise HTTPException(403, f"{who.label} has no tokens of its own")
        if Permission.USERS_MANAGE in MATRIX[who.role]:
            owner = None  # an admin revokes anyone's
        try:
            await accounts.revoke_token(
                sessions, token_id, actor=audit.Actor.of(who), source=source_of(request),
                owner_id=owner,
            )  # fmt: skip
        except accounts.AccessError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(status_code=204)

    if oidc is not None:
        router.include_router(oidc.router(gate, start_session))
    return router


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
