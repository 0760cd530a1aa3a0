"""HQ decisions on the real stack: `tidegate hq` with tokens, the worker applying them.

A tide orange is in force (II citywide); the duty officer holds the city at III from the CLI:
the response shows "automatic II, HQ holds III" and stands the level II work down; withdrawing
gives the city back to the signal. An observer and a district officer outside its district are
refused and audited (issue #13, with the access rules of issue #12).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from access import accounts
from access.audit import Actor
from access.matrix import Role
from config.settings import Settings
from plans.loader import load_plan
from plans.model import Hazard, Level
from plans.warning import Alert, Kind, Status
from store.db import create_engine, session_maker
from store.models import AuditEntryRecord
from tests.e2e.harness import eventually, prepare, run_tidegate, running_worker
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id, submit

pytestmark = pytest.mark.e2e
PLAN = load_plan()
OPERATOR = Actor("test", "operator")
CATALOGUE = accounts.Catalogue(
    frozenset(a.id for a in PLAN.agencies), frozenset(d.id for d in PLAN.districts)
)


async def token_of(
    sessions: async_sessionmaker[AsyncSession], name: str, role: Role, district: str | None = None
) -> str:
    await accounts.add_account(
        sessions, name, role, catalogue=CATALOGUE, actor=OPERATOR, source="test",
        district=district, password="a long test password 42",
    )  # fmt: skip
    token, _ = await accounts.create_token(sessions, name, actor=OPERATOR, source="test")
    return token


async def hq(settings: Settings, token: str, *args: str) -> tuple[int, dict[str, Any]]:
    done = await run_tidegate(settings, "hq", *args, "--token", token, "--json")
    return done.returncode, json.loads(done.stdout or "{}")


async def test_the_duty_officer_holds_the_city_and_withdraws_the_hold(
    e2e_settings: Settings, temporal_env: Any
) -> None:
    settings = e2e_settings
    await prepare(settings)
    engine = create_engine(settings.db_url)
    sessions = session_maker(engine)
    try:
        officer = await token_of(sessions, "duty-1", Role.DUTY_OFFICER)
        observer = await token_of(sessions, "watcher", Role.OBSERVER)
        minhang = await token_of(sessions, "mh-officer", Role.DISTRICT_OFFICER, "minhang")
        async with running_worker(settings):
            tide = Alert(
                id="tide-1", sender="上海中心气象台", sent=datetime.now(UTC),
                status=Status.ACTUAL, kind=Kind.ALERT, hazard=Hazard.TIDE, level=Level.ORANGE,
                areas=("citywide",),
            )  # fmt: skip
            await submit(temporal_env.client, settings.task_queue, settings.region, PLAN, tide)
            handle = temporal_env.client.get_workflow_handle(
                response_workflow_id(settings.region, False)
            )

            async def levels() -> Any:
                return await handle.query(ResponseWorkflow.status)

            async def at(level: str) -> Any:
                status = await levels()
                return status if status.levels.get("citywide") == level else None

            assert await eventually(lambda: at("II"))

            code, body = await hq(settings, observer, "declare", "hold", "--level", "III",
                                  "--reason", "observers cannot decide")  # fmt: skip
            assert code == 9 and "may not hq.decide" in body["detail"]
            code, body = await hq(settings, minhang, "declare", "raise", "--level", "II",
                                  "--area", "浦东新区", "--reason", "not my district")  # fmt: skip
            assert code == 9 and "only for district 'minhang'" in body["detail"]

            code, body = await hq(settings, officer, "declare", "hold", "--level", "III",
                                  "--reason", "tide peak past", "--id", "hold-1")  # fmt: skip
            assert code == 0, body
            held = await eventually(lambda: at("III"))
            assert held.automatic["citywide"] == "II" and held.declarations == ["hold-1"]

            code, body = await hq(settings, officer, "withdraw", "hold-1")
            assert code == 0, body
            back = await eventually(lambda: at("II"))
            assert back.declarations == [] and back.automatic == {}

        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(AuditEntryRecord).where(AuditEntryRecord.target.contains("hq"))
                )
            ).all()
        outcomes = sorted((r.actor, r.action, r.outcome) for r in rows)
        assert outcomes == [
            ("duty-1", "hq.decision", "ok"),
            ("duty-1", "hq.decision", "ok"),
            ("mh-officer", "refused", "refused"),
            ("watcher", "refused", "refused"),
        ]
    finally:
        await engine.dispose()
