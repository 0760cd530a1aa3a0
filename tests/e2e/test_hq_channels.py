"""HQ decisions over HTTP and Kafka, on the real stack (issue #13).

HTTP: ``tidegate serve``'s app over real HTTP beside the production worker. A duty officer
holds the city at III over a tide orange and withdraws it; an observer, a district officer
outside its district and a district officer withdrawing a citywide hold are refused (403);
malformed decisions get a 422 naming the field; the same decision twice is a ``duplicate``;
``GET /hq/decisions`` lists what is in force with the automatic levels beside.

Kafka: the HQ system's user ``hq`` writes ``tidegate.hq.decisions``: a response started ahead
of any signal dispatches its tasks; a malformed decision is dead-lettered with its reason; the
same decision again (by id, and by content under another id) is a ``duplicate``; an agency's
user may not write there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from access.matrix import Role
from cli.exit import ExitCode
from config.kafka import client_options
from config.settings import Settings
from devstack._proc import free_ports
from plans.model import CITYWIDE, ActiveWarning, Hazard, Level, Task
from plans.warning import Alert, Kind, Status
from runtime.ops import HQ_USER, agency_user, ensure_access
from store.db import create_engine, session_maker
from store.models import AuditEntryRecord, AuditRecord
from tests.e2e.harness import collect, eventually, prepare, run_tidegate, running_worker, token_of
from tests.e2e.intake import PLAN, ago, read, rejections, tasks_for
from tests.e2e.test_intake_http import running_api
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id, submit

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_settings(e2e_settings: Settings) -> Settings:
    """The test's settings with a port of its own and no development token."""
    return e2e_settings.model_copy(update={"http_port": free_ports(1)[0], "api_token": ""})


@pytest.fixture
async def sessions(api_settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await prepare(api_settings)
    engine = create_engine(api_settings.db_url)
    try:
        yield session_maker(engine)
    finally:
        await engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def decision(decision_id: str, kind: str, **fields: Any) -> bytes:
    return json.dumps({"id": decision_id, "kind": kind, **fields}, ensure_ascii=False).encode()


async def outcomes(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    """(decision id, outcome) of every HQ decision the responses logged, in order."""
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditRecord).where(AuditRecord.action == "hq_decision").order_by(AuditRecord.id)
        )
        return [(r.detail["decision_id"], r.detail["outcome"]) for r in rows]


async def trail(sessions: async_sessionmaker[AsyncSession], action: str) -> list[AuditEntryRecord]:
    async with sessions() as session:
        query = select(AuditEntryRecord).where(AuditEntryRecord.action == action)
        return list((await session.scalars(query.order_by(AuditEntryRecord.id))).all())


async def test_http_decides_refuses_and_lists(
    api_settings: Settings, sessions: async_sessionmaker[AsyncSession], temporal_env: Any
) -> None:
    s = api_settings
    officer = await token_of(s, Role.DUTY_OFFICER, name="duty-http")
    observer = await token_of(s, Role.OBSERVER, name="watch-http")
    minhang = await token_of(s, Role.DISTRICT_OFFICER, district="minhang", name="mh-http")
    async with running_worker(s), running_api(s) as http:
        tide = Alert(
            id="tide-http", sender="上海中心气象台", sent=ago(), status=Status.ACTUAL,
            kind=Kind.ALERT, hazard=Hazard.TIDE, level=Level.ORANGE, areas=(CITYWIDE,),
        )  # fmt: skip
        await submit(temporal_env.client, s.task_queue, s.region, PLAN, tide)
        handle = temporal_env.client.get_workflow_handle(response_workflow_id(s.region, False))

        async def citywide(level: str) -> Any:
            status = await handle.query(ResponseWorkflow.status)
            return status if status.levels.get(CITYWIDE) == level else None

        assert await eventually(lambda: citywide("II"))

        hold = decision(
            "hold-http",
            "hold",
            level="III",
            areas=["全市"],
            reason="潮位高峰已过",
            sent=ago().isoformat(),
        )
        refused = await http.post("/hq/decisions", content=hold, headers=bearer(observer))
        assert refused.status_code == 403 and "may not hq.decide" in refused.json()["detail"]
        pudong = decision("raise-pd", "raise", level="II", areas=["浦东新区"], reason="not mine")
        refused = await http.post("/hq/decisions", content=pudong, headers=bearer(minhang))
        assert refused.status_code == 403, refused.text
        assert "only for district 'minhang'" in refused.json()["detail"]

        for body, field in [
            (decision("bad-1", "hold", areas=["citywide"], reason="no level"), "level"),
            (decision("bad-2", "raise", level="II", areas=["火星"], reason="where"), "areas"),
            (decision("bad-3", "hold", level="V", areas=["citywide"], reason="x"), "level"),
            (decision("bad-4", "hold", level="III", areas=["citywide"]), "reason"),
            (decision("bad-5", "withdraw", references=["a", "b"]), "references"),
            (decision("bad-6", "hold", level="III", areas=["citywide"], reason="x", x=1), "x"),
        ]:
            got = await http.post("/hq/decisions", content=body, headers=bearer(officer))
            assert (got.status_code, got.json()["field"]) == (422, field), got.text
        not_json = await http.post("/hq/decisions", content=b"{", headers=bearer(officer))
        assert not_json.status_code == 400
        as_text = {**bearer(officer), "Content-Type": "text/plain"}
        assert (await http.post("/hq/decisions", content=hold, headers=as_text)).status_code == 415

        applied = await http.post("/hq/decisions", content=hold, headers=bearer(officer))
        assert (applied.status_code, applied.json()["outcome"]) == (200, "apply"), applied.text
        held = await eventually(lambda: citywide("III"))
        assert held.automatic[CITYWIDE] == "II" and held.declarations == ["hold-http"]
        again = await http.post("/hq/decisions", content=hold, headers=bearer(officer))
        assert (again.status_code, again.json()["outcome"]) == (200, "duplicate"), again.text

        own = decision("raise-mh", "raise", level="I", areas=["闵行区"], reason="内涝严重")
        mine = await http.post("/hq/decisions", content=own, headers=bearer(minhang))
        assert (mine.status_code, mine.json()["outcome"]) == (200, "apply"), mine.text
        take_back = decision("wd-1", "withdraw", references=["hold-http"])
        refused = await http.post("/hq/decisions", content=take_back, headers=bearer(minhang))
        assert refused.status_code == 403 and "citywide" in refused.json()["detail"]
        # The command line counts a withdraw's areas the same way.
        cli = await run_tidegate(s, "hq", "withdraw", "hold-http", "--json", token=minhang)
        assert cli.returncode == ExitCode.FORBIDDEN, cli.stderr
        assert "citywide" in json.loads(cli.stdout)["detail"]
        cli = await run_tidegate(s, "hq", "withdraw", "not-in-force", "--json", token=officer)
        assert cli.returncode == ExitCode.REJECTED, cli.stderr
        assert (
            json.loads(cli.stdout)["detail"]
            == "references: no declaration 'not-in-force' is in force"
        )

        async def listed_with_minhang_at_one() -> dict[str, Any] | None:
            listed = await http.get("/hq/decisions", headers=bearer(observer))
            assert listed.status_code == 200, listed.text
            shown: dict[str, Any] = listed.json()
            return shown if shown["levels"].get("minhang") == "I" else None

        # The outcome is logged before the response re-decides: the levels follow it.
        body = await eventually(listed_with_minhang_at_one)
        assert [d["id"] for d in body["declarations"]] == ["hold-http", "raise-mh"]
        assert body["declarations"][1]["decided_by"] == "mh-http"
        assert body["declarations"][1]["areas"] == ["minhang"]
        assert body["levels"][CITYWIDE] == "III" and body["levels"]["minhang"] == "I"
        assert body["automatic"][CITYWIDE] == "II"

        withdrawn = await http.post("/hq/decisions", content=take_back, headers=bearer(officer))
        assert (withdrawn.status_code, withdrawn.json()["outcome"]) == (200, "apply")
        assert await eventually(lambda: citywide("II"))
        nothing = decision("wd-2", "withdraw", references=["never-declared"])
        gone = await http.post("/hq/decisions", content=nothing, headers=bearer(officer))
        assert (gone.status_code, gone.json()["outcome"]) == (409, "rejected"), gone.text
        listed = (await http.get("/hq/decisions", headers=bearer(officer))).json()
        assert [d["id"] for d in listed["declarations"]] == ["raise-mh"]

    assert await outcomes(sessions) == [
        ("hold-http", "apply"),
        ("hold-http", "duplicate"),
        ("raise-mh", "apply"),
        ("wd-1", "apply"),
    ]
    audited = [(e.actor, e.target, e.outcome) for e in await trail(sessions, "hq.decision")]
    assert audited.count(("duty-http", "", "failed")) == 8  # 6 invalid, not JSON, not JSON type
    assert ("duty-http", "hq:hold-http", "ok") in audited
    assert ("mh-http", "hq:raise-mh", "ok") in audited
    assert ("duty-http", "hq:wd-2", "failed") in audited
    refusals = [(e.actor, e.detail["permission"]) for e in await trail(sessions, "refused")]
    assert refusals.count(("watch-http", "hq.decide")) == 1
    assert refusals.count(("mh-http", "hq.decide")) == 3  # two over HTTP, one from the CLI
    refused_rows = [r for r in await rejections(s) if r.channel == "http:/hq/decisions"]
    assert len(refused_rows) == 8


async def test_kafka_applies_dead_letters_and_drops_duplicates(
    e2e_settings: Settings, kafka_agencies: list[str], temporal_env: Any
) -> None:
    s = e2e_settings
    await prepare(s)
    await ensure_access(s, kafka_agencies)  # this test's topics: the agencies' and hq's ACLs
    engine = create_engine(s.db_url)
    sessions = session_maker(engine)
    topic = s.topic("hq.decisions")
    start: dict[str, Any] = {
        "kind": "start", "level": "IV", "areas": ["citywide"], "hazards": ["台风"],
        "reason": "台风“烟花”逼近，提前启动Ⅳ级响应", "decided_by": "上海市防汛指挥部",
        "sent": ago().isoformat(),
    }  # fmt: skip
    bad = decision("hq-bad", "raise", level="II", areas=["Atlantis"], reason="?")
    try:
        async with running_worker(s):
            hq = AIOKafkaProducer(**client_options(s, username=HQ_USER), enable_idempotence=True)
            await hq.start()
            try:
                await hq.send_and_wait(topic, decision("hq-1", **start), key=b"hq-1")
                await hq.send_and_wait(topic, bad, key=b"hq-bad")
                await hq.send_and_wait(topic, decision("hq-1", **start), key=b"hq-1")
                await hq.send_and_wait(topic, decision("hq-1-again", **start), key=b"hq-1-again")
            finally:
                await hq.stop()

            # Started ahead of any signal: the plan's typhoon blue tasks go out.
            expected = tasks_for_wind_blue()
            agencies = sorted({t.agency for t in expected})
            messages = await collect(
                s, [s.topic(f"tasks.{a}") for a in agencies], lambda m: True, len(expected)
            )
            assert sorted(m["plan_task_id"] for m in messages) == sorted(t.id for t in expected)

            dead = await read(s, [s.topic("hq.decisions.dlq")], count=1)
            assert [d.value for d in dead] == [bad]
            reason = dict(dead[0].headers)["reason"].decode()
            assert reason == "areas: unknown area 'Atlantis'"

            async def three() -> list[tuple[str, str]] | None:
                found = await outcomes(sessions)
                return found if len(found) >= 3 else None

            assert await eventually(three) == [
                ("hq-1", "apply"),
                ("hq-1", "duplicate"),
                ("hq-1-again", "duplicate"),
            ]
            refused = [r for r in await rejections(s) if r.channel == f"kafka:{topic}"]
            assert [(r.payload, r.reason) for r in refused] == [(bad, reason)]

            agency = AIOKafkaProducer(**client_options(s, username=agency_user("drainage")))
            await agency.start()
            try:
                with pytest.raises(TopicAuthorizationFailedError):
                    await agency.send_and_wait(topic, decision("forged", **start))
            finally:
                await agency.stop()

        audited = [(e.actor, e.target, e.outcome) for e in await trail(sessions, "hq.decision")]
        assert audited.count((f"kafka:{topic}", "hq:hq-1", "ok")) == 2
        assert (f"kafka:{topic}", "", "failed") in audited
    finally:
        await engine.dispose()


def tasks_for_wind_blue() -> tuple[Task, ...]:
    """A start at IV for typhoon, citywide, ahead of any signal: the plan's wind blue tasks."""
    return tasks_for(ActiveWarning(Hazard.WIND, Level.BLUE, (CITYWIDE,)))
