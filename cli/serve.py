"""``tidegate serve``: the HTTP intake API, a composition root beside ``worker.py``.

It loads the settings and the plan once, connects Temporal, opens the database, builds the app
of :mod:`alerts.http` around the real ``submit``, ``lookup`` and ``on_reject``
(:class:`alerts.services.IntakeServices`) and serves it with uvicorn on
``TIDEGATE_HTTP_HOST:TIDEGATE_HTTP_PORT`` until SIGINT or SIGTERM. Requests in flight finish
before it exits (status 0).

Every route is authenticated (:mod:`access.http`): API tokens and console sessions of the
accounts in the database, and ``TIDEGATE_API_TOKEN``, a shared development token acting as the
duty officer ``dev-token`` and honoured from loopback clients only. Its default is known to
every checkout, so the API refuses to start with it on any address other than loopback; set
it empty to have none.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import uvicorn

from access.http import Gate, GateConfig, redact_access_log
from access.oidc import OidcConfig, OidcLogin
from access.web import access_router
from alerts.agency_http import agency_router
from alerts.apidocs import offline_docs
from alerts.hq import HqServices
from alerts.hq_http import hq_router
from alerts.http import create_app
from alerts.services import IntakeServices
from config.errors import ConfigError
from config.settings import Settings, load_settings
from console import web as console
from plans.errors import PlanError
from runtime.services import Runtime
from workflows.tracking import AnswerRoute

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from plans.model import Plan

log = logging.getLogger("tidegate.http")

DEV_TOKEN: str = Settings.model_fields["api_token"].default
"""The development token every checkout knows; only acceptable on loopback."""
GRACE_SECONDS = 10
"""How long requests in flight may take to finish after SIGINT/SIGTERM."""


def build_app(
    settings: Settings,
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    plan: Plan,
    answers: Callable[[], Awaitable[AnswerRoute]] | None = None,
    stopping: asyncio.Event | None = None,
) -> FastAPI:
    """The intake app exactly as ``tidegate serve`` runs it (tests build it here too).

    ``answers`` is where live agency answers go (:meth:`Runtime.answers`); by default the
    worker's task queue through ``client``.
    """
    gate = build_gate(settings, sessions)
    services = IntakeServices(
        client,
        sessions,
        plan,
        settings.task_queue,
        settings.region,
        settings.decision_wait_seconds,
    )
    app = create_app(
        services.submit,
        services.lookup,
        gate,
        settings.max_alert_bytes,
        on_reject=services.on_reject,
        plan=plan,
        read_timeout=settings.http_read_timeout_seconds,
    )
    if answers is None:

        async def answers() -> AnswerRoute:
            return AnswerRoute(client, sessions, settings.task_queue, False)

    app.include_router(agency_router(gate, answers))
    hq = HqServices(
        client,
        sessions,
        plan,
        settings.task_queue,
        settings.region,
        settings.decision_wait_seconds,
    )
    app.include_router(hq_router(gate, hq, read_timeout=settings.http_read_timeout_seconds))
    app.include_router(access_router(gate, build_oidc(settings, sessions)))
    offline_docs(app)
    console.mount(
        app,
        settings=settings,
        client=client,
        sessions=sessions,
        plan=plan,
        answers=AnswerRoute(client, sessions, settings.task_queue, False),
        stopping=stopping,
    )
    return app


def build_gate(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Gate:
    """Authentication and rate limits as configured."""
    return Gate(
        sessions,
        GateConfig(
            dev_token=settings.api_token.strip() or None,
            session_hours=settings.session_hours,
            login_per_minute=settings.login_rate_per_minute,
            intake_per_minute=settings.intake_rate_per_minute,
            secure_cookies=settings.cookie_secure,
        ),
    )


def build_oidc(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> OidcLogin | None:
    """The OpenID Connect login, if ``TIDEGATE_OIDC_ISSUER`` is set."""
    if not settings.oidc_issuer:
        return None
    if not settings.oidc_client_id:
        raise ConfigError("TIDEGATE_OIDC_ISSUER is set: set TIDEGATE_OIDC_CLIENT_ID too")
    config = OidcConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        username_claim=settings.oidc_username_claim,
        public_url=settings.public_url,
    )
    return OidcLogin(config, sessions)


def check_token(settings: Settings) -> None:
    """Refuse the well-known development token off loopback.

    An empty ``TIDEGATE_API_TOKEN`` means no shared token (accounts' tokens only); any other
    is honoured from loopback clients only (:class:`access.http.Gate`).

    Raises:
        ConfigError: Naming ``TIDEGATE_API_TOKEN`` and what to do.
    """
    if settings.api_token == DEV_TOKEN and not is_loopback(settings.http_host):
        raise ConfigError(
            f"refusing to serve the HTTP API on {settings.http_host} with the development "
            "token; set TIDEGATE_API_TOKEN= (empty: use accounts' tokens, `tidegate tokens "
            "create`) or TIDEGATE_HTTP_HOST=127.0.0.1"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the caller's ``stop`` event decides."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "set TIDEGATE_HTTP_HOST / TIDEGATE_HTTP_PORT"
        ) from None


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Serve the API until ``stop`` is set, then let requests in flight finish."""
    check_token(settings)
    async with AsyncExitStack() as stack:
        rt = await stack.enter_async_context(Runtime(settings))
        try:
            plan = rt.plan
        except PlanError as exc:
            raise ConfigError(f"plan {settings.plan_path}: {exc}") from None
        sock = _listen(settings.http_host, settings.http_port)
        stack.callback(sock.close)
        app = build_app(settings, await rt.temporal(), rt.sessions, plan, rt.answers, stop)
        config = uvicorn.Config(
            app, log_config=None, lifespan="off", timeout_graceful_shutdown=GRACE_SECONDS
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="http")
        stopping = asyncio.create_task(stop.wait())
        log.info("HTTP intake on http://%s:%d/alerts", settings.http_host, settings.http_port)
        log.info("console on http://%s:%d/", settings.http_host, settings.http_port)
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        server.should_exit = True
        await serving
        log.info("HTTP intake stopped")


def serve() -> None:
    """Run the HTTP intake API (POST /alerts, GET /alerts/{id}) until Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redact_access_log()
    settings = load_settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    asyncio.run(main())
