"""The commands that act take a token and are checked like HTTP (issue #12): ``tidegate alert
issue|update|cancel|import``, ``plan apply``, ``drill run``. Each refusal exits 9
(``ExitCode.FORBIDDEN``), does nothing and is in the audit trail; what is allowed is audited
too, naming the account. Temporal is stood in for: these tests are about who may act.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from access import audit
from access.matrix import Role
from access.terminal import local_services
from alerts.decisions import DecisionReport
from cli.exit import ExitCode
from cli.main import app
from plans.model import Plan
from plans.warning import Alert
from tests.access.conftest import DEV_TOKEN, add

Sessions = async_sessionmaker[AsyncSession]
ISSUE = ("alert", "issue", "--hazard", "rainstorm", "--level", "blue")


@dataclass
class Temporal:
    """What reached the stand-in for Temporal."""

    alerts: list[Alert] = field(default_factory=list)
    plans: list[tuple[str, str]] = field(default_factory=list)
    drills: list[str] = field(default_factory=list)


@pytest.fixture
def temporal(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Temporal:
    """The CLI on the test database, with Temporal (and the drill runner) stood in for."""
    got = Temporal()
    monkeypatch.setenv("TIDEGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("TIDEGATE_API_TOKEN", DEV_TOKEN)
    monkeypatch.delenv("TIDEGATE_TOKEN", raising=False)
    monkeypatch.delenv("TIDEGATE_TEMPORAL_ADDRESS", raising=False)

    async def hand_over(
        client: Any, sessions: Any, queue: str, region: str, plan: Plan, alert: Alert, wait: float
    ) -> DecisionReport:
        got.alerts.append(alert)
        return DecisionReport(alert.id, str(alert.kind), str(alert.route), "apply", "new", "wf")

    class Handle:
        def __init__(self, workflow_id: str) -> None:
            self.workflow_id = workflow_id

        async def execute_update(self, update: Any, plan: Plan) -> str:
            got.plans.append((self.workflow_id, plan.version))
            return plan.version

    class Client:
        def get_workflow_handle(self, workflow_id: str) -> Handle:
            return Handle(workflow_id)

    async def connect(self: Any) -> Client:
        return Client()

    class Drill:
        def __init__(self, storm: str) -> None:
            self.storm = storm

        def to_json(self) -> dict[str, Any]:
            return {"storm": self.storm}

    def run_drill(timeline: Any, settings: Any, options: Any) -> Drill:
        got.drills.append(timeline.slug)
        return Drill(timeline.slug)

    monkeypatch.setattr("cli.alert.hand_over", hand_over)
    monkeypatch.setattr("runtime.services.Runtime.temporal", connect)
    monkeypatch.setattr("cli.drill._with_progress", run_drill)
    return got


async def tidegate(*args: str, token: str | None = None, **env: str) -> Result:
    """The CLI in a thread of its own (it runs its own event loop), as from a terminal."""
    given = ({"TIDEGATE_TOKEN": token} if token is not None else {}) | env
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=given)


async def trail(sessions: Sessions) -> list[tuple[str, str, str, str, str]]:
    """``(actor, role, action, target, outcome)`` of the entries the CLI wrote."""
    rows = await audit.entries(sessions)
    return [
        (e.actor, e.role, e.action, e.target, e.outcome)
        for e in rows
        if e.source.startswith(("cli ", "scheduler "))
    ]


async def test_an_observer_cannot_issue_a_warning(sessions: Sessions, temporal: Temporal) -> None:
    observer = await add(sessions, "obs", Role.OBSERVER)
    duty = await add(sessions, "duty", Role.DUTY_OFFICER)

    missing = await tidegate(*ISSUE, "--json")
    assert missing.exit_code == ExitCode.FORBIDDEN
    assert json.loads(missing.stdout)["decision"] == "forbidden"
    assert "TIDEGATE_TOKEN" in json.loads(missing.stdout)["reason"]
    wrong = await tidegate(*ISSUE, token=duty + "x")
    assert wrong.exit_code == ExitCode.FORBIDDEN
    assert "unknown, expired or revoked" in wrong.output
    refused = await tidegate(*ISSUE, token=observer)
    assert refused.exit_code == ExitCode.FORBIDDEN, refused.output
    assert "FORBIDDEN obs (observer) may not warning.issue" in refused.output
    assert temporal.alerts == []

    issued = await tidegate(*ISSUE, "--id", "cli-duty-1", token=duty)
    assert issued.exit_code == ExitCode.OK, issued.output
    assert [(a.id, a.sender) for a in temporal.alerts] == [("cli-duty-1", "duty@tidegate")]
    assert await trail(sessions) == [
        ("anonymous", "anonymous", "auth.failed", "tidegate alert issue", "refused"),
        ("obs", "observer", "refused", "tidegate alert issue", "refused"),
        ("duty", "duty_officer", "warning.received", "cli-duty-1", "ok"),
    ]
    (received,) = [e for e in await audit.entries(sessions) if e.action == "warning.received"]
    assert received.detail == {
        "kind": "alert", "hazard": "rainstorm", "level": "blue", "areas": ["citywide"],
        "decision": "apply",
    }  # fmt: skip


async def test_a_district_officer_issues_for_its_own_district_only(
    sessions: Sessions, temporal: Temporal
) -> None:
    pudong = await add(sessions, "pd-hq", Role.DISTRICT_OFFICER, district="pudong")

    own = await tidegate(*ISSUE, "--area", "浦东新区", "--id", "pd-1", token=pudong)
    assert own.exit_code == ExitCode.OK, own.output
    other = await tidegate(*ISSUE, "--area", "jinshan", "--id", "js-1", "--json", token=pudong)
    assert other.exit_code == ExitCode.FORBIDDEN, other.output
    said = json.loads(other.stdout)
    assert said["decision"] == "forbidden" and said["areas"] == ["jinshan"]
    assert "only for district 'pudong'" in said["reason"]
    citywide = await tidegate(*ISSUE, "--id", "city-1", token=pudong)
    assert citywide.exit_code == ExitCode.FORBIDDEN
    mixed = await tidegate(
        "alert", "update", "pd-1", "--hazard", "rainstorm", "--level", "yellow",
        "--area", "pudong", "--area", "jinshan", token=pudong,
    )  # fmt: skip
    assert mixed.exit_code == ExitCode.FORBIDDEN
    assert [a.id for a in temporal.alerts] == ["pd-1"]
    got = await trail(sessions)
    assert got[0] == ("pd-hq", "district_officer:pudong", "warning.received", "pd-1", "ok")
    assert [(action, target[:4]) for _, _, action, target, _ in got[1:]] == [
        ("refused", "js-1"),
        ("refused", "city"),
        ("refused", "cli-"),
    ]


async def test_a_duty_officer_applies_a_plan_an_agency_desk_cannot(
    sessions: Sessions, temporal: Temporal
) -> None:
    duty = await add(sessions, "duty", Role.DUTY_OFFICER)
    desk = await add(sessions, "pd-drainage", Role.AGENCY_DESK, agency="drainage")

    refused = await tidegate("plan", "apply", token=desk)
    assert refused.exit_code == ExitCode.FORBIDDEN, refused.output
    assert "may not plan.apply" in refused.output
    assert temporal.plans == []
    applied = await tidegate("plan", "apply", token=duty)
    assert applied.exit_code == ExitCode.OK, applied.output
    assert applied.stdout.startswith("response-shanghai now runs plan ")
    assert [workflow for workflow, _ in temporal.plans] == ["response-shanghai"]
    assert await trail(sessions) == [
        ("pd-drainage", "agency_desk:drainage", "refused", "tidegate plan apply", "refused"),
        ("duty", "duty_officer", "plan.applied", "response-shanghai", "ok"),
    ]


async def test_a_trainer_starts_a_drill_an_observer_cannot(
    sessions: Sessions, temporal: Temporal
) -> None:
    trainer = await add(sessions, "trainer", Role.TRAINER)
    observer = await add(sessions, "obs", Role.OBSERVER)
    duty = await add(sessions, "duty", Role.DUTY_OFFICER)

    for token in (observer, duty):
        refused = await tidegate("drill", "run", "lekima", "--json", token=token)
        assert refused.exit_code == ExitCode.FORBIDDEN, refused.output
        assert "may not drill.run" in refused.output
    assert temporal.drills == []
    started = await tidegate("drill", "run", "lekima", "--json", "--seed", "3", token=trainer)
    assert started.exit_code == ExitCode.OK, started.output
    assert json.loads(started.stdout) == {"storm": "2019-lekima"}
    assert temporal.drills == ["2019-lekima"]
    got = await trail(sessions)
    assert got == [
        ("obs", "observer", "refused", "tidegate drill run", "refused"),
        ("duty", "duty_officer", "refused", "tidegate drill run", "refused"),
        ("trainer", "trainer", "drill.started", "2019-lekima", "ok"),
    ]
    (entry,) = [e for e in await audit.entries(sessions) if e.action == "drill.started"]
    assert entry.detail["mode"] == "fast" and entry.detail["seed"] == 3


async def test_a_scheduled_drill_without_its_schedule_is_refused(
    sessions: Sessions, temporal: Temporal
) -> None:
    refused = await tidegate("drill", "run", "lekima", "--scheduled", "drill-00000000")
    assert refused.exit_code == ExitCode.FORBIDDEN, refused.output
    assert "no scheduled drill 'drill-00000000'" in refused.output
    assert temporal.drills == []


async def test_the_development_token_only_with_this_machines_services(
    sessions: Sessions, temporal: Temporal
) -> None:
    here = await tidegate(*ISSUE, "--id", "dev-1", token=DEV_TOKEN)
    assert here.exit_code == ExitCode.OK, here.output
    elsewhere = await tidegate(
        *ISSUE, "--id", "dev-2", token=DEV_TOKEN, TIDEGATE_TEMPORAL_ADDRESS="temporal.example:7233"
    )
    assert elsewhere.exit_code == ExitCode.FORBIDDEN
    assert "honoured only with this machine's services" in elsewhere.output
    unset = await tidegate(*ISSUE, "--id", "dev-3", token=DEV_TOKEN, TIDEGATE_API_TOKEN="")
    assert unset.exit_code == ExitCode.FORBIDDEN
    assert [a.id for a in temporal.alerts] == ["dev-1"]
    assert await trail(sessions) == [
        ("dev-token", "duty_officer", "warning.received", "dev-1", "ok"),
        ("anonymous", "anonymous", "auth.failed", "tidegate alert issue", "refused"),
        ("anonymous", "anonymous", "auth.failed", "tidegate alert issue", "refused"),
    ]


@pytest.mark.parametrize(
    ("temporal_address", "database_url", "local"),
    [
        ("127.0.0.1:7233", "sqlite+aiosqlite:////srv/tidegate.db", True),
        ("localhost:7233", "postgresql+asyncpg://u:p@127.0.0.1/t", True),
        ("[::1]:7233", "postgresql+asyncpg://u@/t?host=/run/postgresql", True),
        ("temporal.example:7233", "sqlite+aiosqlite:////srv/tidegate.db", False),
        ("127.0.0.1:7233", "postgresql+asyncpg://u:p@db.example/t", False),
        ("127.0.0.1:7233,10.0.0.5:7233", "sqlite+aiosqlite:///x.db", False),
    ],
)
def test_what_counts_as_this_machines_services(
    temporal_address: str, database_url: str, local: bool
) -> None:
    assert local_services(temporal_address, database_url) is local
