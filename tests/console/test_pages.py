"""The console's pages and agency API over seeded rows, with a fake Temporal (no services).

The fast smoke of the console in the main suite: every page renders in both languages, the
board shows what the rows say, answers are checked against the task before delivery (stale
pages get a conflict), the login and the language switch work, ``/docs`` needs no CDN, and
the event stream speaks. ``tests/e2e/test_console_browser.py`` drives the real stack in
Chromium.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from alerts.apidocs import offline_docs
from config.settings import Settings
from console import i18n
from console import web as console
from console.live import ChangeFeed, event_stream
from plans.loader import load_plan
from store import records
from store.db import create_engine, session_maker
from store.migrate import upgrade_async
from tests.console.seed import Seeded, seed_response
from workflows.tracking import AnswerRoute
from workflows.types import AgencyEvent, ResponseStatus

PLAN = load_plan()
TOKEN = "console-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"}


@dataclass
class FakeHandle:
    client: FakeClient
    workflow_id: str

    async def query(self, *args: Any, **kwargs: Any) -> ResponseStatus:
        if self.client.status is None:
            raise RuntimeError("no worker")
        return self.client.status

    async def signal(self, name: str, event: AgencyEvent) -> None:
        """Play the task workflow: record the answer as it would."""
        self.client.signals.append((self.workflow_id, event))
        task_id = self.workflow_id.removeprefix("task:")
        state = {"acknowledge": "acknowledged", "progress": "in_progress"}.get(
            event.kind, "completed" if event.kind == "complete" else "declined"
        )
        async with self.client.sessions.begin() as session:
            await records.save_transition(
                session, task_id, 100 + len(self.client.signals), state, event.kind,
                datetime.now(UTC), {"by": event.by},
            )  # fmt: skip


@dataclass
class FakeClient:
    sessions: Any
    status: ResponseStatus | None = None
    signals: list[tuple[str, AgencyEvent]] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)


@dataclass
class World:
    http: httpx.AsyncClient
    client: FakeClient
    seeded: Seeded
    settings: Settings


@pytest_asyncio.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    """The console over seeded rows, on SQLite and on PostgreSQL."""
    url = database_url
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_maker(engine)
    settings = Settings(data_dir=tmp_path, database_url=url, api_token=TOKEN)
    seeded = await seed_response(sessions, PLAN)
    client = FakeClient(sessions)
    client.status = ResponseStatus(seeded.response_id, PLAN.version, {}, ["seed-1"], [])
    app = FastAPI(docs_url=None, redoc_url=None)
    offline_docs(app)
    stop = asyncio.Event()
    console.mount(
        app,
        settings=settings,
        client=client,  # type: ignore[arg-type]
        sessions=sessions,
        plan=PLAN,
        answers=AnswerRoute(client, sessions, settings.task_queue, False),  # type: ignore[arg-type]
        stopping=stop,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as http:
        yield World(http, client, seeded, settings)
    stop.set()
    await engine.dispose()


PAGES = ["/", "/board/live", "/warnings", "/warnings?kind=update", "/warnings?kind=cancel",
         "/agency", "/agency/drainage", "/drills", "/plan"]  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_renders_in_both_languages(world: World, lang: str) -> None:
    world.http.cookies.set(i18n.COOKIE, lang)
    for page in [*PAGES, f"/responses/{world.seeded.response_id}"]:
        answer = await world.http.get(page, headers=BEARER)
        assert answer.status_code == 200, (page, answer.text[:500])
        if page.endswith("/live"):
            continue  # a fragment the page fetches again
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in answer.text
        if lang == "zh":
            assert "态势总览" in answer.text
        else:
            assert "Situation board" in answer.text


async def test_the_board_shows_levels_warnings_attention_counts_and_refusals(world: World) -> None:
    page = (await world.http.get("/", headers=BEARER)).text
    assert 'data-district="pudong" data-level="III"' in page  # yellow rainstorm: level III
    assert "Ⅲ级" in page  # the level in words beside the colour
    assert "seed-1" in page  # in force, as the workflow says
    first, second = world.seeded.task_ids[:2]
    attention = page[page.index('id="attention"') :]
    assert attention.index(first) < attention.index(second)  # escalated twice, first
    assert "督办单" in attention and "区防汛指挥部" in attention  # stage 2: supervision
    refused = page[page.index('id="refused"') :]
    for expected in ("seed-9", "seed-0", "waiting for seed-8", "older than seed-1", "火星"):
        assert expected in refused


async def test_a_silent_workflow_is_said_not_guessed(world: World) -> None:
    world.client.status = None
    page = (await world.http.get("/", headers=BEARER)).text
    assert "未知（工作流无应答）" in page


async def test_answers_are_checked_against_what_the_page_showed(world: World) -> None:
    task_id = world.seeded.task_ids[3]
    stale = await world.http.post(
        f"/agency/tasks/{task_id}/acknowledge",
        json={"expected_state": "escalated"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert stale.status_code == 409, stale.text
    assert "changed since you looked" in stale.json()["detail"]
    assert world.client.signals == []  # nothing was delivered

    done = await world.http.post(
        f"/agency/tasks/{task_id}/acknowledge",
        json={"expected_state": "dispatched", "by": "浦东 3 班"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert done.status_code == 200, done.text
    assert (done.json()["result"], done.json()["state"]) == ("recorded", "acknowledged")
    again = await world.http.post(
        f"/agency/tasks/{task_id}/acknowledge",
        json={},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert again.status_code == 409
    assert "already acknowledged" in again.json()["detail"]

    no_reason = await world.http.post(
        f"/agency/tasks/{task_id}/decline", json={}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert no_reason.status_code == 422
    assert "a decline must say why" in no_reason.json()["detail"]
    unknown = await world.http.post(
        "/agency/tasks/no/such@task/complete", json={}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert unknown.status_code == 404
    anonymous = await world.http.post(f"/agency/tasks/{task_id}/complete", json={})
    assert anonymous.status_code == 401


async def test_the_desk_form_says_what_happened_and_what_conflicted(world: World) -> None:
    task_id = world.seeded.task_ids[0]
    agency = next(t for t in PLAN.actions if task_id.split("/", 1)[1].startswith(t.id)).agency
    desk = (await world.http.get(f"/agency/{agency}", headers=BEARER)).text
    assert task_id in desk and "data-deadline=" in desk
    form = {"task_id": task_id, "action": "acknowledge", "expected_state": "dispatched"}
    conflict = await world.http.post(f"/agency/{agency}/answer", data=form, headers=BEARER)
    assert conflict.status_code == 303
    shown = (await world.http.get(conflict.headers["location"], headers=BEARER)).text
    assert "任务已变化" in shown and "escalated" in shown
    form["expected_state"] = "escalated"
    ok = await world.http.post(f"/agency/{agency}/answer", data=form, headers=BEARER)
    shown = (await world.http.get(ok.headers["location"], headers=BEARER)).text
    assert "已提交" in shown and "escalated → acknowledged" in shown


async def test_the_preview_comes_from_the_plan_and_errors_stay_inline(world: World) -> None:
    form = {"kind": "alert", "hazard": "rainstorm", "level": "red", "areas": ["pudong"]}
    page = await world.http.post("/warnings/preview", data=form, headers=BEARER)
    assert page.status_code == 200
    assert 'id="preview-levels"' in page.text and "Ⅰ级" in page.text
    assert world.client.signals == []
    bad = await world.http.post(
        "/warnings/preview",
        data={"kind": "alert", "hazard": "rainstorm", "level": "red", "other_areas": "火星"},
        headers=BEARER,
    )
    assert bad.status_code == 422
    assert "unknown area" in bad.text and 'value="火星"' in bad.text  # nothing typed is lost


async def test_login_cookie_origin_and_language(world: World) -> None:
    anonymous = await world.http.get("/warnings", headers={"Accept": "text/html"})
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login?next=/warnings")
    wrong = await world.http.post("/login", data={"token": "nope", "next": "/warnings"})
    assert wrong.status_code == 401
    signed = await world.http.post("/login", data={"token": TOKEN, "next": "//evil.example"})
    assert (signed.status_code, signed.headers["location"]) == (303, "/")
    assert (await world.http.get("/warnings", headers={"Accept": "text/html"})).status_code == 200
    # A cookie alone may not change anything from another site's page.
    form = {"kind": "alert", "hazard": "rainstorm", "level": "red", "areas": ["pudong"]}
    foreign = await world.http.post(
        "/warnings/preview", data=form, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 401
    own = await world.http.post(
        "/warnings/preview", data=form, headers={"Origin": "http://console.test"}
    )
    assert own.status_code == 200
    switched = await world.http.get("/lang/en?next=/plan")
    assert (switched.status_code, switched.headers["location"]) == (303, "/plan")
    assert "Response plan" in (await world.http.get("/plan")).text


async def test_docs_and_console_need_no_cdn(world: World) -> None:
    docs = (await world.http.get("/docs")).text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert (await world.http.get("/docs-assets/swagger-ui-bundle.js")).status_code == 200
    for page in PAGES:
        text = (await world.http.get(page, headers=BEARER)).text
        assert not re.search(r'(src|href)="(https?:)?//', text), page
    css = (await world.http.get("/static/console.css")).text
    assert "Noto Sans CJK SC" in css


async def test_the_event_stream_says_hello_then_each_change(tmp_path: Path) -> None:
    """(httpx's ASGI transport buffers whole bodies, so the stream is read from its source.)"""
    url = f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    stop = asyncio.Event()
    feed = ChangeFeed(session_maker(engine), stop, poll_seconds=0.05)
    stream = event_stream(feed)
    assert await anext(stream) == "retry: 1000\n\n"
    assert await anext(stream) == "event: hello\ndata: 0\n\n"
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)  # the feed has taken its first mark: nothing changed yet
    assert not waiting.done()
    await seed_response(session_maker(engine), PLAN)  # a write by someone else
    assert await asyncio.wait_for(waiting, 10) == "event: change\ndata: 1\n\n"
    stop.set()
    await feed.wake_on_stop()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 10)
    await engine.dispose()


def test_every_label_the_templates_use_exists_in_both_languages() -> None:
    used: set[str] = set()
    for template in (Path(console.HERE) / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*'([a-z_.]+)'\s*\)""", template.read_text()))
    missing = sorted(k for k in used if k not in i18n.LABELS)
    assert not missing
    for key, (zh, en) in i18n.LABELS.items():
        assert zh.strip() and en.strip(), key


async def test_update_and_cancel_previews_replace_what_is_in_force(world: World) -> None:
    up = {"kind": "update", "reference": "seed-1", "hazard": "rainstorm", "level": "orange",
          "areas": ["citywide"]}  # fmt: skip
    page = (await world.http.post("/warnings/preview", data=up, headers=BEARER)).text
    levels = page[page.index('id="preview-levels"') :]
    assert "Ⅲ级 →" in levels and "Ⅱ级" in levels  # yellow (III) replaced by orange (II)
    cancel = {"kind": "cancel", "reference": "seed-1"}
    page = (await world.http.post("/warnings/preview", data=cancel, headers=BEARER)).text
    assert "将撤销的任务" in page and '→ <span class="badge lvl-none">' in page
    unknown = {"kind": "cancel", "reference": "never-sent"}
    page = (await world.http.post("/warnings/preview", data=unknown, headers=BEARER)).text
    assert "no warning &#39;never-sent&#39; has been received" in page


async def test_a_warning_that_cannot_be_handed_on_says_it_was_not_sent(world: World) -> None:
    form = {"kind": "alert", "hazard": "tide", "level": "blue", "areas": ["jinshan"]}
    page = await world.http.post("/warnings/submit", data=form, headers=BEARER)
    assert page.status_code == 503
    assert "not sent" in page.text and 'value="jinshan" checked' in page.text


def _luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, two: str) -> float:
    high, low = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_level_colours_keep_their_text_readable() -> None:
    """WCAG AA (4.5:1) for the text on every level colour, and muted text on the page."""
    css = (Path(console.HERE) / "static" / "console.css").read_text()
    var = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-f]{6})", css))
    pairs = {"lvl-iv": "iv", "lvl-iii": "iii", "lvl-ii": "ii", "lvl-i": "i", "lvl-none": "none"}
    for css_class, name in pairs.items():
        text = re.search(rf"\.{css_class} {{ background: var\(--{name}\); color: (#[0-9a-f]+)", css)
        assert text is not None, css_class
        colour = text.group(1) if len(text.group(1)) == 7 else "#" + text.group(1)[1] * 6
        assert _contrast(var[name], colour) >= 4.5, (css_class, var[name], colour)
    assert _contrast(var["muted"], var["bg"]) >= 4.5
    assert _contrast(var["accent"], "#ffffff") >= 4.5


async def test_plan_comparison_of_a_plan_with_itself(world: World) -> None:
    form = {"storm": "2015-chan-hom", "plan_a": str(world.settings.plan_path),
            "plan_b": str(world.settings.plan_path)}  # fmt: skip
    page = await world.http.post("/drills/compare", data=form, headers=BEARER)
    assert page.status_code == 200
    assert "两个预案在此风暴的每一步都相同" in page.text
    form["plan_b"] = "/nowhere"
    missing = await world.http.post("/drills/compare", data=form, headers=BEARER)
    assert missing.status_code == 422 and 'id="drill-error"' in missing.text
