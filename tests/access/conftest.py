"""Fixtures for the access-control tests: a migrated database (SQLite and PostgreSQL), its
accounts, and the HTTP app with the real gate over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from access import accounts
from access.audit import Actor
from access.http import Gate, GateConfig
from access.matrix import Role
from access.web import access_router
from alerts.agency_http import agency_router
from alerts.http import SubmitResult, create_app
from plans.loader import load_plan
from plans.warning import Alert
from store.db import create_engine, session_maker
from store.migrate import upgrade_async
from store.models import TaskRecord
from workflows.tracking import AnswerRoute

PLAN = load_plan()
CATALOGUE = accounts.Catalogue(
    frozenset(a.id for a in PLAN.agencies), frozenset(d.id for d in PLAN.districts)
)
OPERATOR = Actor("local:test", "operator")
PASSWORD = "correct horse battery staple"
DEV_TOKEN = "dev-test-token"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A freshly migrated database."""
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        yield session_maker(engine)
    finally:
        await engine.dispose()


async def add(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    role: Role,
    *,
    agency: str | None = None,
    district: str | None = None,
    password: str | None = PASSWORD,
) -> str:
    """Add an account and return a fresh token of it."""
    from access.matrix import SERVICE_ROLES

    await accounts.add_account(
        sessions, name, role, catalogue=CATALOGUE, actor=OPERATOR, source="test",
        agency=agency, district=district, password=None if role in SERVICE_ROLES else password,
    )  # fmt: skip
    token, _ = await accounts.create_token(sessions, name, actor=OPERATOR, source="test")
    return token


async def add_task(
    sessions: async_sessionmaker[AsyncSession], task_id: str, agency: str, area: str = "pudong"
) -> None:
    """A live task row, as a response would have recorded it."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(
            TaskRecord(
                id=task_id, response_id=task_id.split("/")[0], plan_task_id=task_id.split("/")[1],
                action_id=f"{agency}.work", agency=agency, area=area, asset=None,
                hazard="flood", response_level="IV", state="dispatched", drill=False,
                plan_version="test", issued_at=now, deadline_at=now + timedelta(hours=1),
                updated_at=now, dispatch=1, tracking=None,
            )
        )  # fmt: skip


@dataclass
class Delivered:
    """Answers that reached the (stand-in) task workflows, and warnings handed on."""

    answers: list[tuple[str, str, str]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@pytest.fixture
def delivered(monkeypatch: pytest.MonkeyPatch) -> Delivered:
    """Stand in for Temporal: record what would have been delivered."""
    got = Delivered()

    async def deliver(route: Any, event: Any) -> None:
        got.answers.append((event.task_id, event.event.kind, event.event.by))

    monkeypatch.setattr("access.answers.deliver", deliver)
    return got


def build(sessions: async_sessionmaker[AsyncSession], delivered: Delivered) -> FastAPI:
    """The app as ``tidegate serve`` assembles it, with Temporal stood in for."""
    gate = Gate(sessions, GateConfig(dev_token=DEV_TOKEN, login_per_minute=1000))

    async def submit(alert: Alert) -> SubmitResult:
        delivered.alerts.append(alert)
        return SubmitResult("response-shanghai", "handed on", "apply")

    async def lookup(alert_id: str) -> dict[str, Any] | None:
        return {"id": alert_id} if any(a.id == alert_id for a in delivered.alerts) else None

    async def answers() -> AnswerRoute:
        return AnswerRoute(None, sessions, "tidegate", False)  # type: ignore[arg-type]

    app = create_app(submit, lookup, gate, plan=PLAN)
    app.include_router(agency_router(gate, answers))
    app.include_router(access_router(gate))
    return app


@pytest.fixture
async def client(
    sessions: async_sessionmaker[AsyncSession], delivered: Delivered
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app (from 127.0.0.1, like a local caller)."""
    transport = httpx.ASGITransport(app=build(sessions, delivered), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
