"""The console in a real Chromium against the real stack: worker, Temporal, Kafka, database.

A duty officer issues a warning from the form (after a preview) and watches the board change
without reloading; an agency desk acknowledges and completes a task and the board's counts
move; a stale desk page gets a conflict; an unacknowledged task shows its escalation stage,
and the board reconnects by itself after a server restart; a drill started from the page
ends with its report; the language switch; the agency desk on a phone. Every wait is for a
condition, up to a generous timeout: nothing asserts a duration. Screenshots are left in
``build/browser/`` (``TIDEGATE_ARTEFACTS``); ``make test-browser`` runs this module.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import Page, expect

from access.audit import entries as audit_entries
from access.matrix import Role
from alerts.intake import parse_alert
from config.settings import Settings
from devstack._proc import free_ports
from plans.warning import Alert
from store.db import create_engine, session_maker
from tests.e2e.browser import (
    PHONE,
    WAIT_MS,
    account_token,
    chromium,
    context,
    running_console,
    shot,
)
from tests.e2e.harness import prepare, running_worker
from tests.e2e.intake import PLAN, json_alert
from workflows.starters import submit

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SCALE = 300.0
"""Plan minutes per real minute in the escalation test: the 15-minute reminder comes in 3 s."""


@pytest.fixture
def console_settings(e2e_settings: Settings) -> Settings:
    """The test's settings with a port of its own (the development token: loopback only)."""
    return e2e_settings.model_copy(
        update={"http_port": free_ports(1)[0], "decision_wait_seconds": 30.0}
    )


UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button')].filter(el =>
    !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !(el.tagName === 'BUTTON' && el.textContent.trim())).map(el => el.outerHTML)"""
"""Every control a keyboard or a screen reader reaches has a name."""


async def accessible(page: Page) -> None:
    """Every control is labelled, and the first Tab reaches "skip to content"."""
    assert await page.evaluate(UNLABELLED) == []
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.className") == "skip"


async def tile_level(page: Page, district: str) -> str | None:
    return await page.get_attribute(f'#board [data-district="{district}"]', "data-level")


async def count(page: Page, agency: str, state: str) -> str:
    cell = page.locator(f'#task-counts tr[data-agency="{agency}"] td[data-state="{state}"]')
    return (await cell.inner_text()).strip()


async def test_issue_from_the_form_watch_the_board_answer_from_the_desk(
    console_settings: Settings,
) -> None:
    s = console_settings
    await prepare(s)
    desk_token, desk_password = await account_token(
        s, "drainage-desk", Role.AGENCY_DESK, agency="drainage"
    )
    async with running_worker(s), running_console(s) as base, chromium() as browser:
        officer = await context(browser, base, s.api_token)
        board = await officer.new_page()
        await board.goto("/")
        await expect(board.locator("#live")).to_have_class("live ok")
        assert await tile_level(board, "pudong") == "none"

        # The warning form: preview (the plan's answer, nothing sent), then issue.
        form = await officer.new_page()
        await form.goto("/warnings")
        await accessible(form)
        await form.select_option("#hazard", "rainstorm")
        await form.select_option("#level", "blue")
        await form.get_by_label("浦东新区").check()
        await form.click("#preview-button")
        await expect(form.locator("#preview-levels")).to_contain_text("浦东新区")
        await expect(form.locator("#preview-dispatch")).to_contain_text("排水")
        assert await form.get_by_label("浦东新区").is_checked()  # the form kept the choice
        await shot(form, "warnings-preview")
        await form.click("#submit-button")
        await expect(form.locator("#decision")).to_contain_text("已生效")
        await shot(form, "warnings-decision")

        # The board, never reloaded, shows it (server-sent events).
        await board.wait_for_function(
            """() => document.querySelector('#board [data-district="pudong"]')
                       .dataset.level === 'IV'""",
            timeout=WAIT_MS,
        )
        await expect(board.locator("#in-force")).to_contain_text("暴雨")
        await expect(board.locator("#timeline")).to_contain_text("收到预警")
        await expect(board.locator('#task-counts tr[data-agency="drainage"]')).to_be_visible()
        dispatched = int(await count(board, "drainage", "dispatched") or 0)
        assert dispatched >= 1

        # Bad input: an inline error, nothing lost, nothing sent.
        await form.goto("/warnings")
        await form.fill("#other_areas", "火星")
        await form.click("#submit-button")
        await expect(form.locator("#form-error")).to_contain_text("火星")
        await expect(form.locator("#other_areas")).to_have_value("火星")

        # An agency desk acknowledges, then completes; the board's counts move.
        desk_ctx = await context(browser, base, desk_token)
        desk = await desk_ctx.new_page()
        await desk.goto("/")  # an agency desk sees its own tasks only: the page says why
        await expect(desk.locator("#forbidden")).to_contain_text("duty_officer")
        await desk.goto("/agency/sanitation")
        await expect(desk.locator("#forbidden")).to_contain_text("--agency sanitation")
        await desk.goto("/agency/drainage")
        card = desk.locator("#desk-tasks > li").first
        task_id = await card.get_attribute("data-task")
        assert task_id
        # The same desk open elsewhere, cut off from live updates: it will go stale.
        stale = await desk_ctx.new_page()
        await stale.route("**/events", lambda route: route.abort())
        await stale.goto("/agency/drainage")
        await card.locator("button.ack").click()
        await expect(desk.locator("#desk-message")).to_contain_text("acknowledged")
        await board.wait_for_function(
            """() => document.querySelector(
                 '#task-counts tr[data-agency="drainage"] td[data-state="acknowledged"]'
               ).textContent.trim() === '1'""",
            timeout=WAIT_MS,
        )
        # The stale page still offers "acknowledge": the server says what changed instead.
        stale_card = stale.locator(f'#desk-tasks > li[data-task="{task_id}"]')
        await stale_card.locator("button.ack").click()
        await expect(stale.locator("#desk-message")).to_contain_text("acknowledged")
        await expect(stale.locator("#desk-message")).to_have_class("notice bad")

        done = desk.locator(f'#desk-tasks > li[data-task="{task_id}"]')
        await done.locator("button.complete").click()
        await expect(desk.locator("#desk-message")).to_contain_text("completed")
        await board.wait_for_function(
            """() => document.querySelector(
                 '#task-counts tr[data-agency="drainage"] td[data-state="completed"]'
               ).textContent.trim() === '1'""",
            timeout=WAIT_MS,
        )
        await expect(desk.locator(f'#desk-closed tr[data-task="{task_id}"]')).to_be_visible()
        await shot(board, "board")
        await shot(desk, "agency-desk")

        # The desk on a phone, signed in with name and password (a session cookie, CSRF
        # tokens in the forms): readable, nothing wider than the screen, buttons in reach.
        phone_ctx = await context(browser, base, None, viewport=PHONE)
        phone = await phone_ctx.new_page()
        await phone.goto("/agency/drainage")
        await phone.fill("input[name=name]", "drainage-desk")
        await phone.fill("input[name=password]", desk_password)
        await phone.click("form[action='/login'] button")
        await expect(phone.locator("#desk-tasks")).to_be_visible()
        await accessible(phone)
        await expect(phone.locator("#live")).to_have_class("live ok")
        first = phone.locator("#desk-tasks > li").first
        await expect(first.locator("button.ack")).to_be_visible()
        assert await phone.evaluate(
            "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
        box = await first.locator("button.ack").bounding_box()
        assert box is not None and box["height"] >= 40  # a finger-sized target
        await shot(phone, "agency-desk-phone")
        progressing = phone.locator("#desk-tasks > li").first
        await progressing.locator("button.progress").click()
        await expect(phone.locator("#desk-message")).to_contain_text("in_progress")

        # The language switch: one click each way, every label follows.
        await board.click("#lang-switch")
        await expect(board.locator("h1")).to_have_text("Flood and typhoon situation board")
        await expect(board.locator("#task-counts")).to_contain_text("Drainage")
        await shot(board, "board-en")
        await board.click("#lang-switch")
        await expect(board.locator("h1")).to_have_text("防汛防台态势总览")

        # /docs is the real Swagger UI, served locally.
        docs = await officer.new_page()
        await docs.goto("/docs")
        await expect(docs.locator(".swagger-ui .info .title")).to_contain_text("tidegate")
        for context_ in (officer, desk_ctx, phone_ctx):
            await context_.close()
    # The access-control audit trail has what was done in the console, and by whom.
    engine = create_engine(s.db_url)
    try:
        trail = await audit_entries(session_maker(engine))
    finally:
        await engine.dispose()
    console_entries = [e for e in trail if e.detail.get("channel") == "console"]
    assert {(e.actor, e.action, e.outcome) for e in console_entries} >= {
        ("dev-token", "warning.received", "ok"),
        ("drainage-desk", "task.answered", "ok"),
        ("drainage-desk", "task.answered", "refused"),  # the stale page's conflict
    }


async def test_unanswered_task_shows_its_escalation_and_the_board_survives_a_restart(
    console_settings: Settings,
) -> None:
    s = console_settings
    await prepare(s)
    async with running_worker(s), chromium() as browser:
        from temporalio.client import Client

        client = await Client.connect(s.temporal_address)
        alert = parse_alert(
            json_alert("console-esc-1", hazard="flood", areas=["金山区"]),
            plan=PLAN,
            now=datetime.now(UTC),
        )
        await submit(client, s.task_queue, s.region, PLAN, alert, time_scale=SCALE)
        async with running_console(s) as base:
            officer = await context(browser, base, s.api_token)
            board = await officer.new_page()
            await board.goto("/")
            await expect(board.locator("#attention")).to_contain_text("提醒单", timeout=WAIT_MS)
            row = board.locator("#attention tbody tr").first
            await expect(row).to_contain_text("已督办")
            await expect(board.locator("#attention")).to_contain_text("督办单", timeout=WAIT_MS)
            await shot(board, "board-escalated")
        # The server is gone: the page says so, and comes back by itself.
        await expect(board.locator("#live")).to_have_class("live lost")
        async with running_console(s) as base:
            await expect(board.locator("#live")).to_have_class("live ok", timeout=WAIT_MS)
            before = await board.locator("#board").get_attribute("data-version")
            await submit(client, s.task_queue, s.region, PLAN, _tide(), time_scale=SCALE)
            changed = f"""() => document.querySelector('#board').dataset.version !== '{before}'
                && document.querySelector('#in-force').textContent.includes('console-tide')"""
            await board.wait_for_function(changed, timeout=WAIT_MS)
            async with httpx.AsyncClient(base_url=base) as http:  # still the same server
                assert (await http.get("/openapi.json")).status_code == 200
            await officer.close()


def _tide() -> Alert:
    return parse_alert(
        json_alert("console-tide-1", hazard="tide", areas=["奉贤区"]),
        plan=PLAN,
        now=datetime.now(UTC),
    )


async def test_start_a_drill_from_the_page_and_open_its_report(
    console_settings: Settings,
) -> None:
    s = console_settings
    await prepare(s)
    trainer, _ = await account_token(s, "trainer", Role.TRAINER)
    async with running_worker(s), running_console(s) as base, chromium() as browser:
        ctx = await context(browser, base, trainer)
        page = await ctx.new_page()
        await page.goto("/drills")
        await page.select_option("#storm", "2015-chan-hom")
        await page.get_by_label("快速（时间跳跃，数十秒）").check()
        await page.click("#start-drill")
        running = page.locator("#drill-runs > li").first
        await expect(running).to_be_visible()
        link = page.locator("#drill-runs a.report-link")
        await expect(link).to_be_visible(timeout=600_000)  # a storm replayed on 2 shared cores
        await shot(page, "drills")
        await link.click()
        await expect(page.locator("h1")).to_contain_text("After-action report")
        await expect(page.locator("body")).to_contain_text("Chan-hom")
        await page.go_back()
        await expect(page.locator("#past-drills")).to_contain_text("Chan-hom")
        await ctx.close()
