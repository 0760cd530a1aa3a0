"""The console inside ``tidegate serve``: services, templates, and mounting the pages.

:func:`mount` adds the console's routers, its static files and its login to the FastAPI app
that ``cli.serve.build_app`` builds, so ``make run`` serves the console beside the intake API.
Pages are rendered on the server with Jinja2 (``console/templates``); ``console/static``
holds the stylesheet and a small script (live updates, countdowns, previews), both served by
tidegate itself: nothing comes from a CDN.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from config.settings import Settings
from console import auth, i18n
from console.live import ChangeFeed
from console.tilemap import TILES, level_class

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from console.drill_room import DrillRoom
    from plans.model import Plan
    from workflows.tracking import AnswerRoute

HERE = Path(__file__).resolve().parent
SHANGHAI = timezone(timedelta(hours=8), "UTC+8")
"""Times on the console are Shanghai's (the HQ's clock), marked as such."""


@dataclass
class ConsoleServices:
    """What the console's routes use; one per app, in ``app.state.console``."""

    settings: Settings
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    plan: Plan
    answers: AnswerRoute
    stopping: asyncio.Event
    feed: ChangeFeed
    drills: DrillRoom
    env: Environment

    def temporal_ui(self, workflow_id: str) -> str:
        """The workflow's page in the Temporal Web UI."""
        host = self.settings.temporal_address.rpartition(":")[0] or "127.0.0.1"
        namespace = quote(self.settings.temporal_namespace, safe="")
        return (
            f"http://{host}:{self.settings.temporal_ui_port}/namespaces/{namespace}"
            f"/workflows/{quote(workflow_id, safe='')}"
        )


def services(request: Request) -> ConsoleServices:
    """The console's services (``mount`` put them on the app)."""
    found = request.app.state.console
    assert isinstance(found, ConsoleServices)
    return found


def environment() -> Environment:
    """Jinja2 environment of the console: autoescaped, unknown names are errors."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html", "j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
    env.filters["level_class"] = level_class
    env.filters["urlpart"] = lambda text: quote(str(text), safe="")
    return env


def local_time(moment: datetime | None, pattern: str = "%m-%d %H:%M") -> str:
    """A time on the HQ's clock (UTC+8)."""
    if moment is None:
        return "–"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(SHANGHAI).strftime(pattern)


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page (or fragment) in the request's language."""
    svc = services(request)
    lang = i18n.resolve(request)
    t = i18n.translator(lang)
    plan = svc.plan
    names = Names(plan, lang)
    body = svc.env.get_template(template).render(
        request=request,
        lang=lang,
        t=t,
        names=names,
        plan=plan,
        path=request.url.path,
        query=request.url.query,
        principal=context.pop("principal", None),
        csrf_token=getattr(request.state, "csrf_token", ""),
        tiles=TILES,
        **context,
    )
    return HTMLResponse(body, status_code=status_code)


class Names:
    """Plan names in the page's language (unknown ids are shown as they are)."""

    def __init__(self, plan: Plan, lang: str) -> None:
        self.plan = plan
        self.lang = lang

    def _pick(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def area(self, area_id: str) -> str:
        """``浦东新区`` / ``Pudong New Area``."""
        try:
            found = self.plan.area(area_id)
        except KeyError:
            return area_id
        return self._pick(found.zh, found.en)

    def tile(self, area_id: str) -> str:
        """A district's name short enough for a map tile (``Pudong``; Chinese names as is)."""
        name = self.area(area_id)
        if self.lang == "zh":
            return name
        for suffix in (" New Area", " District"):
            name = name.removesuffix(suffix)
        return name

    def areas(self, area_ids: Any) -> str:
        """Several areas, comma separated."""
        return ("、" if self.lang == "zh" else ", ").join(self.area(a) for a in area_ids)

    def agency(self, agency_id: str) -> str:
        """The agency's name."""
        try:
            found = self.plan.agency(agency_id)
        except KeyError:
            return agency_id
        return self._pick(found.zh, found.en)

    def action(self, action_id: str) -> str:
        """The action's short title."""
        try:
            found = self.plan.action(action_id)
        except KeyError:
            return action_id
        return self._pick(found.zh, found.en)

    def asset(self, asset_id: str | None) -> str:
        """The asset's name ('' for none)."""
        if not asset_id:
            return ""
        try:
            found = self.plan.asset(asset_id)
        except KeyError:
            return asset_id
        return self._pick(found.zh, found.en)


def wants_html(request: Request) -> bool:
    """A browser page (not an API client)."""
    return "text/html" in request.headers.get("accept", "")


def mount(
    app: FastAPI,
    *,
    settings: Settings,
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    plan: Plan,
    answers: AnswerRoute,
    stopping: asyncio.Event | None = None,
) -> ConsoleServices:
    """Add the console (pages, agency API, static files, login) to ``app``."""
    from console import board, desk, drill_room, plan_page, warning_forms

    stop = stopping or asyncio.Event()
    feed = ChangeFeed(sessions, stop)
    room = drill_room.DrillRoom(settings, feed)
    svc = ConsoleServices(
        settings, client, sessions, plan, answers, stop, feed, room, environment()
    )
    app.state.console = svc
    app.state.console_auth = auth.TokenCheck(settings.api_token)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (board, warning_forms, desk, drill_room, plan_page):
        app.include_router(module.router)
    if not any(str(getattr(r, "path", "")).startswith("/agency/tasks/") for r in app.routes):
        app.include_router(desk.api)  # the access-control gate brings its own otherwise
    if not any(getattr(route, "path", None) == "/login" for route in app.routes):
        _install_session_routes(app)  # the access-control gate brings its own otherwise
    app.add_exception_handler(auth.Unauthenticated, _unauthenticated)
    app.add_exception_handler(auth.NotAllowed, _not_allowed)
    return svc


async def _not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.NotAllowed)
    if not wants_html(request):
        return JSONResponse({"detail": str(exc)}, status_code=403)
    agency = exc.agency or (
        exc.principal.agency if exc.permission is auth.Permission.ANSWER_TASKS else None
    )
    return render(
        request,
        "forbidden.html",
        403,
        principal=exc.principal,
        refused=exc,
        role=auth.ROLE_FOR[exc.permission],
        agency=agency or request.path_params.get("agency") or "drainage",
    )


async def _unauthenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.Unauthenticated)
    if request.method == "GET" and wants_html(request):
        return RedirectResponse(auth.login_url(exc.next_url), status_code=303)
    return JSONResponse(
        {"detail": "missing or wrong token (Authorization: Bearer ... or sign in at /login)"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _install_session_routes(app: FastAPI) -> None:
    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> HTMLResponse:
        svc = services(request)
        dev = svc.settings.api_token == DEV_TOKEN
        return render(
            request,
            "login.html",
            next=auth.safe_next(next),
            dev_token=DEV_TOKEN if dev else "",
            wrong=False,
        )

    @app.post("/login", include_in_schema=False)
    async def login_submit(
        request: Request, token: str = Form(""), next: str = Form("/")
    ) -> Response:
        svc = services(request)
        if auth.login(request.app.state.console_auth, token) is None:
            dev = svc.settings.api_token == DEV_TOKEN
            return render(
                request,
                "login.html",
                401,
                next=auth.safe_next(next),
                dev_token=DEV_TOKEN if dev else "",
                wrong=True,
            )
        response = RedirectResponse(auth.safe_next(next), status_code=303)
        response.set_cookie(
            auth.COOKIE, token.strip(), httponly=True, samesite="strict", max_age=12 * 3600
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.COOKIE)
        return response

    @app.get("/lang/{lang}", include_in_schema=False)
    async def switch_language(lang: str, next: str = "/") -> Response:
        response = RedirectResponse(auth.safe_next(next), status_code=303)
        chosen = "en" if lang == "en" else "zh"
        response.set_cookie(i18n.COOKIE, chosen, samesite="lax", max_age=365 * 24 * 3600)
        return response


DEV_TOKEN: str = Settings.model_fields["api_token"].default
"""The development token (``config.settings.Settings.api_token``'s default); the login form
offers it only while it is the configured token, which ``tidegate serve`` allows on loopback
only."""
