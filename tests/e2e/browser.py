"""Driving the console in a real Chromium, against the real stack.

Playwright for Python drives Debian's ``chromium`` (``/usr/bin/chromium``, installed by
``make setup`` and ``.ci/run``; nothing downloads a browser), headless, with a fresh profile
per context. The API server is ``tidegate serve``'s own ``run`` in the test's event loop, next
to the production worker (:func:`tests.e2e.harness.running_worker`).

Principals: the development token (a duty officer) for the board and the warnings, and for
agency desks and drills tokens of accounts made for the test (an agency desk, a trainer),
sent as ``Authorization`` headers by the browser context.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from access import accounts
from access.audit import Actor
from access.matrix import Role
from cli import serve
from config.settings import ROOT, Settings
from plans.loader import load_plan
from store.db import create_engine, session_maker

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTEFACTS = Path(os.environ.get("TIDEGATE_ARTEFACTS", ROOT / "build" / "browser"))
"""Where the tests leave their screenshots (``make test-browser`` prints the path)."""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1360, "height": 1000}
WAIT_MS = 60_000
"""How long a test waits for a condition in the page: generous; nothing asserts a duration."""


def require_chromium() -> None:
    """Skip (or, under CI, fail) without the system browser."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium, or make setup)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """The system Chromium, headless."""
    require_chromium()
    async with async_playwright() as playwright:
        browser = await _launch(playwright)
        try:
            yield browser
        finally:
            await browser.close()


async def _launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)


async def context(
    browser: Browser,
    base_url: str,
    token: str | None,
    *,
    viewport: dict[str, int] = DESKTOP,
    lang: str = "zh",
) -> BrowserContext:
    """A fresh profile that sends ``token`` with every request (``None``: signs in with a
    session instead), in ``lang``."""
    made = await browser.new_context(
        base_url=base_url,
        viewport=viewport,  # type: ignore[arg-type]
        extra_http_headers={"Authorization": f"Bearer {token}"} if token else {},
        locale="zh-CN" if lang == "zh" else "en-US",
    )
    made.set_default_timeout(WAIT_MS)
    host = base_url.split("//", 1)[1].split(":", 1)[0]
    await made.add_cookies([{"name": "tidegate_lang", "value": lang, "domain": host, "path": "/"}])
    return made


async def shot(page: Page, name: str) -> Path:
    """Save a screenshot as a test artefact (Playwright makes the folder)."""
    path = ARTEFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def account_token(
    settings: Settings, name: str, role: Role, agency: str | None = None
) -> tuple[str, str]:
    """An account of ``role`` (bound to ``agency``): an API token for it, and its password."""
    plan = load_plan(settings.plan_path)
    catalogue = accounts.Catalogue(
        frozenset(a.id for a in plan.agencies), frozenset(d.id for d in plan.districts)
    )
    engine = create_engine(settings.db_url)
    sessions = session_maker(engine)
    actor = Actor("e2e", "operator")
    try:
        password = None if role in (Role.AGENCY_SYSTEM, Role.FEED) else secrets.token_urlsafe(24)
        await accounts.add_account(
            sessions, name, role, catalogue=catalogue, actor=actor, source="e2e",
            agency=agency, password=password,
        )  # fmt: skip
        token, _ = await accounts.create_token(sessions, name, actor=actor, source="e2e")
    finally:
        await engine.dispose()
    return token, password or ""


@contextlib.asynccontextmanager
async def running_console(settings: Settings) -> AsyncIterator[str]:
    """``tidegate serve``'s ``run`` in this event loop; yields its base URL."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve.run(settings, stop))
    base = f"http://{settings.http_host}:{settings.http_port}"
    try:
        await until_up(base, task)
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def until_up(base: str, task: asyncio.Task[Any] | None = None) -> None:
    """Wait until the server answers."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while True:
            if task is not None and task.done():
                task.result()
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/openapi.json")).status_code == 200:
                    return
            assert time.monotonic() < deadline, "the console did not come up"
            await asyncio.sleep(0.1)
