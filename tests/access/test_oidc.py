"""OpenID Connect login against a stand-in provider served on loopback by the test.

The provider is a tiny FastAPI app (discovery, JWKS, authorize, token) signing ID tokens with
a key made here; tidegate talks to it over real HTTP, as it would to a city's provider.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from access.http import Gate, GateConfig
from access.matrix import Role
from access.oidc import OidcConfig, OidcLogin
from access.web import access_router
from devstack._proc import free_ports
from tests.access.conftest import add

Sessions = async_sessionmaker[AsyncSession]
CLIENT_ID, CLIENT_SECRET = "tidegate", "s3cret"


@dataclass
class Provider:
    """The stand-in provider's state: who signs in next, codes issued, tampering switches."""

    issuer: str
    user: str = "li"
    subject: str = "sub-0001"
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    wrong_nonce: bool = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return dict(KeySet([self.key]).as_dict(private=False))

        @app.get("/authorize")
        async def authorize(
            client_id: str, redirect_uri: str, state: str, nonce: str, code_challenge: str,
            code_challenge_method: str, response_type: str, scope: str,
        ) -> RedirectResponse:  # fmt: skip
            assert (client_id, response_type, code_challenge_method) == (CLIENT_ID, "code", "S256")
            assert "openid" in scope.split()
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"challenge": code_challenge, "nonce": nonce, "uri": redirect_uri}
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

        @app.post("/token")
        async def token(
            request: Request,
            code: Annotated[str, Form()],
            code_verifier: Annotated[str, Form()],
            redirect_uri: Annotated[str, Form()],
        ) -> dict[str, Any]:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                raise HTTPException(401, "client authentication failed")
            issued = self.codes.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if issued is None or issued["challenge"] != challenge or issued["uri"] != redirect_uri:
                raise HTTPException(400, "invalid_grant")
            now = int(time.time())
            claims = {
                "iss": self.issuer, "sub": self.subject, "aud": CLIENT_ID, "iat": now,
                "exp": now + 300, "preferred_username": self.user,
                "nonce": "not-yours" if self.wrong_nonce else issued["nonce"],
            }  # fmt: skip
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return {"access_token": "at", "token_type": "Bearer", "id_token": id_token}

        return app


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    """The provider, served by uvicorn on a free loopback port until the test ends."""
    port = free_ports(1)[0]
    stand_in = Provider(issuer=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(stand_in.app(), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers a flag, not an event
        if serving.done():
            serving.result()  # it failed to start: raise why
        await asyncio.sleep(0.02)
    try:
        yield stand_in
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
async def tidegate(sessions: Sessions, provider: Provider) -> AsyncIterator[httpx.AsyncClient]:
    """tidegate's access routes with OIDC pointed at the provider."""
    gate = Gate(sessions, GateConfig())
    oidc = OidcLogin(OidcConfig(provider.issuer, CLIENT_ID, CLIENT_SECRET), sessions)
    app = FastAPI()
    app.include_router(access_router(gate, oidc))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as http:
        yield http


async def sign_in(tidegate: httpx.AsyncClient) -> httpx.Response:
    """The browser's round trip: tidegate -> provider -> tidegate's callback."""
    begin = await tidegate.get("/login/oidc?next=/me")
    assert begin.status_code == 303
    async with httpx.AsyncClient() as browser:
        approved = await browser.get(begin.headers["location"])
    assert approved.status_code in (302, 307), approved.text
    back = urlsplit(approved.headers["location"])
    assert back.path == "/login/oidc/callback" and "code" in parse_qs(back.query)
    return await tidegate.get(f"{back.path}?{back.query}")


async def test_an_account_signs_in_through_the_provider(
    sessions: Sessions, provider: Provider, tidegate: httpx.AsyncClient
) -> None:
    await add(sessions, "li", Role.HQ_COMMANDER, password=None)
    done = await sign_in(tidegate)
    assert done.status_code == 303 and done.headers["location"] == "/me"
    me = (await tidegate.get("/me")).json()
    assert (me["name"], me["role"], me["via"]) == ("li", "hq_commander", "session")

    # Linked now: the provider's subject signs in as "li" even under another username.
    tidegate.cookies.clear()
    provider.user = "someone-else"
    assert (await sign_in(tidegate)).status_code == 303
    assert (await tidegate.get("/me")).json()["name"] == "li"


async def test_no_account_no_login(
    sessions: Sessions, provider: Provider, tidegate: httpx.AsyncClient
) -> None:
    provider.user = "stranger"
    refused = await sign_in(tidegate)
    assert refused.status_code == 403 and "tidegate_session" not in refused.headers.get(
        "set-cookie", ""
    )


async def test_a_token_with_the_wrong_nonce_is_refused(
    sessions: Sessions, provider: Provider, tidegate: httpx.AsyncClient
) -> None:
    await add(sessions, "li", Role.OBSERVER, password=None)
    provider.wrong_nonce = True
    refused = await sign_in(tidegate)
    assert refused.status_code == 401
    assert (await tidegate.get("/me")).status_code == 401


async def test_a_replayed_callback_is_refused(
    sessions: Sessions, provider: Provider, tidegate: httpx.AsyncClient
) -> None:
    await add(sessions, "li", Role.OBSERVER, password=None)
    begin = await tidegate.get("/login/oidc")
    async with httpx.AsyncClient() as browser:
        approved = await browser.get(begin.headers["location"])
    back = urlsplit(approved.headers["location"])
    assert (await tidegate.get(f"{back.path}?{back.query}")).status_code == 303
    assert (await tidegate.get(f"{back.path}?{back.query}")).status_code == 401
