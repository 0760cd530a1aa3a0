"""Optional OpenID Connect login (authorization code flow with PKCE), with Authlib.

For a city with an identity provider: ``GET /login/oidc`` sends the browser to the
provider's authorization endpoint (from its discovery document), ``GET /login/oidc/callback``
exchanges the code for tokens, verifies the ID token (signature against the provider's JWKS
with joserfc; issuer, audience, expiry and nonce with Authlib's ``CodeIDToken``) and opens
a console session for the tidegate account linked to the provider's user
(:func:`access.accounts.link_oidc`). The provider proves who someone is; their role is the
tidegate account's.

Pending logins (state, nonce, PKCE verifier) are kept in memory for ten minutes: a login
begun before a restart of ``tidegate serve`` has to be begun again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from access import accounts
from access.audit import Actor
from access.http import Gate, client_address, source_of
from access.web import safe_next

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from access.matrix import Principal

log = logging.getLogger("tidegate.access")

PENDING_SECONDS = 600.0
MAX_PENDING = 1000
CALLBACK = "/login/oidc/callback"
ALGORITHMS = ("RS256", "ES256", "PS256", "EdDSA")
StartSession = Callable[[Request, "Principal", str], Awaitable[Response]]


@dataclass(frozen=True)
class OidcConfig:
    """The provider and this client's registration with it."""

    issuer: str
    client_id: str
    client_secret: str
    username_claim: str = "preferred_username"
    public_url: str = ""
    """Base URL browsers use to reach tidegate; empty: the request's."""


@dataclass(frozen=True)
class _Pending:
    nonce: str
    verifier: str
    next_url: str
    redirect_uri: str
    created: float


class OidcError(Exception):
    """The login could not be completed; the message says why (for the log and the audit)."""


class OidcLogin:
    """The OIDC client: discovery, the two routes, ID token verification."""

    def __init__(
        self,
        config: OidcConfig,
        sessions: async_sessionmaker[AsyncSession],
        *,
        http: Callable[[], httpx.AsyncClient] = lambda: httpx.AsyncClient(timeout=10.0),
    ) -> None:
        self.config = config
        self.sessions = sessions
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._pending: dict[str, _Pending] = {}

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once)."""
        if self._metadata is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with self._http() as client:
                response = await client.get(url)
                response.raise_for_status()
                found: dict[str, Any] = response.json()
            if found.get("issuer") != self.config.issuer:
                raise OidcError(f"discovery names issuer {found.get('issuer')!r}, not ours")
            self._metadata = found
        return self._metadata

    async def authorization_url(self, redirect_uri: str, next_url: str) -> str:
        """Where to send the browser; remembers the login's state, nonce and verifier."""
        meta = await self.metadata()
        self._forget_stale()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        self._pending[state] = _Pending(nonce, verifier, next_url, redirect_uri, time.monotonic())
        url: str = prepare_grant_uri(
            meta["authorization_endpoint"],
            self.config.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope="openid profile",
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return url

    def _forget_stale(self) -> None:
        cutoff = time.monotonic() - PENDING_SECONDS
        for state in [s for s, p in self._pending.items() if p.created < cutoff]:
            del self._pending[state]
        while len(self._pending) >= MAX_PENDING:
            del self._pending[next(iter(self._pending))]

    async def complete(self, state: str, code: str) -> tuple[dict[str, Any], str]:
        """Exchange the code and verify the ID token; returns its claims and the next URL.

        Raises:
            OidcError: unknown or stale state, a refused exchange, a bad ID token.
        """
        pending = self._pending.pop(state, None)
        if pending is None or pending.created < time.monotonic() - PENDING_SECONDS:
            raise OidcError("unknown or expired login state")
        meta = await self.metadata()
        async with self._http() as client:
            response = await client.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": pending.redirect_uri,
                    "code_verifier": pending.verifier,
                },
                auth=(self.config.client_id, self.config.client_secret),
            )
            if response.status_code != 200:
                raise OidcError(f"the provider refused the code ({response.status_code})")
            id_token = response.json().get("id_token")
            keys = (await client.get(meta["jwks_uri"])).json()
        if not isinstance(id_token, str):
            raise OidcError("the provider sent no ID token")
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=ALGORITHMS)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                options={
                    "iss": {"essential": True, "value": self.config.issuer},
                    "aud": {"essential": True, "value": self.config.client_id},
                },
                params={"nonce": pending.nonce, "client_id": self.config.client_id},
            )
            claims.validate(leeway=60)
        except (JoseError, ValueError) as exc:
            raise OidcError(
                f"the ID token is not valid ({exc.__class__.__name__}: {exc})"
            ) from None
        return dict(claims), pending.next_url

    def router(self, gate: Gate, start_session: StartSession) -> APIRouter:
        """``/login/oidc`` and its callback."""
        router = APIRouter(include_in_schema=False)

        def redirect_uri(request: Request) -> str:
            base = self.config.public_url.rstrip("/") or str(request.base_url).rstrip("/")
            return base + CALLBACK

        @router.get("/login/oidc")
        async def begin(request: Request, next: str = "/") -> Response:
            gate.limit(gate.login_limit, f"ip:{client_address(request)}")
            try:
                url = await self.authorization_url(redirect_uri(request), safe_next(next))
            except (httpx.HTTPError, OidcError) as exc:
                log.warning("OIDC provider unavailable: %s", exc.__class__.__name__)
                return HTMLResponse("The identity provider cannot be reached.", 503)
            return RedirectResponse(url, status_code=303)

        @router.get(CALLBACK)
        async def callback(
            request: Request, state: str = "", code: str = "", error: str = ""
        ) -> Response:
            source = source_of(request)
            try:
                if error or not code:
                    raise OidcError(f"the provider answered {error or 'without a code'}")
                claims, next_url = await self.complete(state, code)
            except (OidcError, httpx.HTTPError) as exc:
                await gate.audit(
                    Actor("?", "unknown"), "login.failed", outcome="refused",
                    source=source, method="oidc", reason=str(exc)[:300],
                )  # fmt: skip
                return HTMLResponse("Sign-in failed. <a href='/login'>Try again</a>.", 401)
            subject = f"{claims['iss']}|{claims['sub']}"
            username = str(claims.get(self.config.username_claim, ""))
            principal = await accounts.link_oidc(self.sessions, subject, username, source=source)
            if principal is None:
                return HTMLResponse(
                    "No tidegate account is linked to this identity; ask an administrator.", 403
                )
            return await start_session(request, principal, next_url)

        return router
