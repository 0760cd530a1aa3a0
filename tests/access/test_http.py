"""The matrix over HTTP, with the real gate and database: each cell that matters, and the
credentials' life (revoked at once, sessions with CSRF, lock-out, headers)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from access import accounts
from access.matrix import Role
from store.models import AuditEntryRecord
from tests.access.conftest import (
    DEV_TOKEN,
    OPERATOR,
    PASSWORD,
    Delivered,
    add,
    add_task,
    bearer,
)

Sessions = async_sessionmaker[AsyncSession]
TASK_DRAINAGE = "response-shanghai-1/drainage.prelower@pudong"
TASK_SANITATION = "response-shanghai-1/sanitation.inlets@pudong"


def warning(alert_id: str, areas: list[str]) -> str:
    return json.dumps(
        {
            "id": alert_id,
            "sender": "test",
            "sent": datetime.now(UTC).isoformat(),
            "status": "actual",
            "kind": "alert",
            "hazard": "rainstorm",
            "level": "blue",
            "areas": areas,
        }
    )


async def issue(http: httpx.AsyncClient, token: str, alert_id: str, areas: list[str]) -> int:
    headers = {**bearer(token), "Content-Type": "application/json"}
    response = await http.post("/alerts", content=warning(alert_id, areas), headers=headers)
    return response.status_code


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r"name=csrf_token value='([^']+)'", page.text)
    assert found is not None
    return found.group(1)


async def refusals(sessions: Sessions) -> list[AuditEntryRecord]:
    async with sessions() as session:
        query = select(AuditEntryRecord).where(AuditEntryRecord.action == "refused")
        return list((await session.scalars(query)).all())


async def test_an_agency_desk_sees_and_answers_its_own_tasks_only(
    sessions: Sessions, client: httpx.AsyncClient, delivered: Delivered
) -> None:
    desk = await add(sessions, "pd-drainage", Role.AGENCY_DESK, agency="drainage")
    await add_task(sessions, TASK_DRAINAGE, "drainage")
    await add_task(sessions, TASK_SANITATION, "sanitation")

    listed = await client.get("/agency/tasks", headers=bearer(desk))
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["tasks"]] == [TASK_DRAINAGE]
    other = await client.get("/agency/tasks?agency=sanitation", headers=bearer(desk))
    assert other.status_code == 403
    assert (
        await client.get(f"/agency/tasks/{TASK_SANITATION}", headers=bearer(desk))
    ).status_code == 403
    assert (
        await client.get(f"/agency/tasks/{TASK_DRAINAGE}", headers=bearer(desk))
    ).status_code == 200

    refused = await client.post(
        f"/agency/tasks/{TASK_SANITATION}/acknowledge", headers=bearer(desk)
    )
    assert refused.status_code == 403 and "another agency" in refused.json()["detail"]
    assert delivered.answers == []

    done = await client.post(
        f"/agency/tasks/{TASK_DRAINAGE}/acknowledge", headers=bearer(desk), json={"by": "crew 3"}
    )
    assert done.status_code == 200, done.text
    assert delivered.answers == [(TASK_DRAINAGE, "acknowledge", "pd-drainage: crew 3")]
    assert [r.target for r in await refusals(sessions)] == [
        "GET /agency/tasks",
        TASK_SANITATION,
        TASK_SANITATION,
    ]


async def test_roles_that_do_not_answer_tasks_cannot(
    sessions: Sessions, client: httpx.AsyncClient, delivered: Delivered
) -> None:
    await add_task(sessions, TASK_DRAINAGE, "drainage")
    for name, role in (("hq", Role.HQ_COMMANDER), ("obs", Role.OBSERVER), ("root", Role.ADMIN)):
        token = await add(sessions, name, role)
        response = await client.post(
            f"/agency/tasks/{TASK_DRAINAGE}/complete", headers=bearer(token)
        )
        assert response.status_code == 403, name
    response = await client.post(
        f"/agency/tasks/{TASK_DRAINAGE}/complete", headers=bearer(DEV_TOKEN)
    )
    assert response.status_code == 403
    assert delivered.answers == []


async def test_an_agency_system_answers_for_its_agency(
    sessions: Sessions, client: httpx.AsyncClient, delivered: Delivered
) -> None:
    scada = await add(sessions, "drainage-scada", Role.AGENCY_SYSTEM, agency="drainage")
    await add_task(sessions, TASK_DRAINAGE, "drainage")
    await add_task(sessions, TASK_SANITATION, "sanitation")
    ok = await client.post(
        f"/agency/tasks/{TASK_DRAINAGE}/decline", headers=bearer(scada),
        json={"reason": "pump station flooded"},
    )  # fmt: skip
    assert ok.status_code == 200, ok.text
    no = await client.post(f"/agency/tasks/{TASK_SANITATION}/complete", headers=bearer(scada))
    assert no.status_code == 403
    bad = await client.post(f"/agency/tasks/{TASK_DRAINAGE}/decline", headers=bearer(scada))
    assert bad.status_code == 422  # a decline must say why
    assert delivered.answers == [(TASK_DRAINAGE, "decline", "drainage-scada")]


async def test_who_may_issue_which_warning(
    sessions: Sessions, client: httpx.AsyncClient, delivered: Delivered
) -> None:
    observer = await add(sessions, "obs", Role.OBSERVER)
    officer = await add(sessions, "pd-officer", Role.DISTRICT_OFFICER, district="pudong")
    duty = await add(sessions, "duty", Role.DUTY_OFFICER)
    feed = await add(sessions, "smb-feed", Role.FEED)
    desk = await add(sessions, "desk", Role.AGENCY_DESK, agency="drainage")
    admin = await add(sessions, "root", Role.ADMIN)

    assert await issue(client, observer, "w-obs", ["citywide"]) == 403
    assert await issue(client, desk, "w-desk", ["pudong"]) == 403
    assert await issue(client, admin, "w-admin", ["pudong"]) == 403
    assert await issue(client, officer, "w-other", ["xuhui"]) == 403
    assert await issue(client, officer, "w-city", ["citywide"]) == 403
    assert await issue(client, officer, "w-pudong", ["浦东"]) == 200
    assert await issue(client, duty, "w-duty", ["citywide"]) == 200
    assert await issue(client, feed, "w-feed", ["xuhui"]) == 200
    assert await issue(client, DEV_TOKEN, "w-dev", ["xuhui"]) == 200
    assert [a.id for a in delivered.alerts] == ["w-pudong", "w-duty", "w-feed", "w-dev"]

    assert (await client.get("/alerts/w-duty", headers=bearer(observer))).status_code == 200
    assert (await client.get("/alerts/w-duty", headers=bearer(desk))).status_code == 403
    assert (await client.get("/alerts/w-duty", headers=bearer(feed))).status_code == 403
    assert len(await refusals(sessions)) == 7


async def test_a_revoked_token_stops_working_at_once(
    sessions: Sessions, client: httpx.AsyncClient
) -> None:
    token = await add(sessions, "duty", Role.DUTY_OFFICER)
    assert (await client.get("/me", headers=bearer(token))).status_code == 200
    await accounts.revoke_token(sessions, token.split("_")[1], actor=OPERATOR, source="t")
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 401
    assert await issue(client, token, "w-after", ["citywide"]) == 401


async def test_the_dev_token_works_from_loopback_only(
    sessions: Sessions, delivered: Delivered
) -> None:
    from tests.access.conftest import build

    app = build(sessions, delivered)
    for address, status in (("127.0.0.1", 200), ("::1", 200), ("10.1.2.3", 401)):
        transport = httpx.ASGITransport(app=app, client=(address, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as http:
            assert (await http.get("/me", headers=bearer(DEV_TOKEN))).status_code == status


async def test_console_login_session_csrf_and_logout(
    sessions: Sessions, client: httpx.AsyncClient
) -> None:
    await add(sessions, "li", Role.HQ_COMMANDER)
    form = await client.get("/login?next=/audit")
    assert form.status_code == 200
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY"
    csrf = re.search(r"name=csrf_token value='([^']+)'", form.text)
    assert csrf is not None

    forged = await client.post(
        "/login", data={"name": "li", "password": PASSWORD, "csrf_token": "guess", "next": "/"}
    )
    assert forged.status_code == 403 and "tidegate_session" not in forged.cookies

    # Each form rendered sets a fresh login CSRF cookie: answer the latest one.
    wrong = await client.post(
        "/login", data={"name": "li", "password": "nope", "csrf_token": csrf_of(forged)}
    )
    assert wrong.status_code == 401

    login = await client.post(
        "/login",
        data={"name": "li", "password": PASSWORD, "csrf_token": csrf_of(wrong), "next": "//evil"},
    )
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie = login.headers["set-cookie"]
    assert "tidegate_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here; https sets Secure

    me = await client.get("/me")
    assert me.status_code == 200 and me.json()["name"] == "li" and me.json()["via"] == "session"
    session_csrf = me.json()["csrf_token"]
    assert (await client.get("/audit?format=csv")).status_code == 200

    assert (await client.post("/logout")).status_code == 403  # no CSRF token
    out = await client.post("/logout", data={"csrf_token": session_csrf})
    assert out.status_code == 303
    assert (await client.get("/me")).status_code == 401


async def test_login_locks_out_after_repeated_failures(
    sessions: Sessions, client: httpx.AsyncClient
) -> None:
    await add(sessions, "zhou", Role.OBSERVER)

    async def attempt(password: str) -> int:
        form = await client.get("/login")
        csrf = re.search(r"name=csrf_token value='([^']+)'", form.text)
        assert csrf is not None
        data = {"name": "zhou", "password": password, "csrf_token": csrf.group(1)}
        return (await client.post("/login", data=data)).status_code

    for _ in range(accounts.LOCK_AFTER):
        assert await attempt("wrong") == 401
    assert await attempt(PASSWORD) == 401  # locked, although right
    async with sessions() as session:
        query = select(AuditEntryRecord.detail).where(AuditEntryRecord.action == "login.failed")
        reasons = [d["reason"] for d in (await session.scalars(query)).all()]
    assert reasons == ["wrong password"] * accounts.LOCK_AFTER + ["locked"]
