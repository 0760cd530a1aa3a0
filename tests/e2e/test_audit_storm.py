"""The audit export tells who did what during a scripted storm (issue #12's "done when").

Real Temporal dev server, Kafka (SASL/SCRAM), database, worker and ``tidegate serve``; the real
``tidegate`` entry point for every CLI step. A duty officer issues a warning on the CLI, an HQ
commander posts one over HTTP, a feed puts one on ``tidegate.alerts``; an agency desk answers
over HTTP and on the CLI, an agency's system on its Kafka events topic; the duty officer applies
a new plan version, a trainer starts a drill, an observer tries to issue a warning and is
refused. ``tidegate audit export --format json`` then holds each of these exactly once, with
who, role, what and from where, and nothing else but the accounts being set up.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from access.matrix import Role
from alerts.agency_events import topic_principal
from cli.exit import ExitCode
from config.settings import Settings
from devstack._proc import free_ports
from plans.loader import load_plan
from runtime.ops import events_topic
from store.db import create_engine, session_maker
from store.models import TaskRecord
from tests.e2e.harness import eventually, prepare, run_tidegate, running_worker, token_of
from tests.e2e.intake import json_alert, produce
from tests.e2e.test_intake_http import running_api

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

STORM = """\
name: Audit storm
timezone: Asia/Shanghai
events:
  - at: "2024-07-01T08:00+08:00"
    kind: warning
    hazard: rainstorm
    action: issue
    level: blue
    areas: [jinshan]
    confidence: high
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def live_tasks(settings: Settings) -> list[TaskRecord]:
    engine = create_engine(settings.db_url)
    try:
        async with session_maker(engine)() as session:
            query = select(TaskRecord).where(TaskRecord.drill.is_(False)).order_by(TaskRecord.id)
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def exported(settings: Settings) -> list[dict[str, Any]]:
    out = await run_tidegate(settings, "audit", "export", "--format", "json")
    assert out.returncode == 0, out.stderr
    entries: list[dict[str, Any]] = json.loads(out.stdout)["entries"]
    return entries


def newer_plan(tmp_path: Path, plan_path: Path) -> Path:
    """The configured plan under a new version: what a duty officer would apply."""
    path = tmp_path / "plan"
    shutil.copytree(plan_path, path)
    text = (path / "plan.yaml").read_text(encoding="utf-8")
    version = load_plan(plan_path).version
    (path / "plan.yaml").write_text(
        text.replace(f'version: "{version}"', f'version: "{version}-audit"'), encoding="utf-8"
    )
    assert load_plan(path).version == f"{version}-audit"
    return path


async def test_the_audit_export_tells_who_did_what_during_a_storm(
    e2e_settings: Settings, tmp_path: Path
) -> None:
    s = e2e_settings.model_copy(update={"http_port": free_ports(1)[0]})
    await prepare(s)
    duty = await token_of(s, Role.DUTY_OFFICER, name="duty-zhang")
    hq = await token_of(s, Role.HQ_COMMANDER, name="hq-li")
    desk = await token_of(s, Role.AGENCY_DESK, agency="drainage", name="desk-drainage")
    trainer = await token_of(s, Role.TRAINER, name="trainer-wu")
    observer = await token_of(s, Role.OBSERVER, name="observer-chen")
    storm = tmp_path / "audit-storm.yaml"
    storm.write_text(STORM, encoding="utf-8")
    plan = newer_plan(tmp_path, s.plan_path)

    async with running_worker(s), running_api(s) as http:
        issued = await run_tidegate(
            s, "alert", "issue", "--hazard", "rainstorm", "--level", "blue", "--area", "citywide",
            "--id", "storm-cli-1", token=duty,
        )  # fmt: skip
        assert issued.returncode == ExitCode.OK, issued.stderr
        posted = await http.post(
            "/alerts", content=json_alert("storm-http-1"),
            headers=bearer(hq) | {"Content-Type": "application/json"},
        )  # fmt: skip
        assert posted.status_code == 200, posted.text
        await produce(s, [json_alert("storm-kafka-1", hazard="flood", areas=["奉贤区"])])
        refused = await run_tidegate(
            s, "alert", "issue", "--hazard", "rainstorm", "--level", "red", token=observer
        )
        assert refused.returncode == ExitCode.FORBIDDEN, refused.stderr

        async def tasks() -> tuple[list[str], str, str] | None:
            found = await live_tasks(s)
            drainage = [t.id for t in found if t.agency == "drainage"]
            other = [t for t in found if t.agency != "drainage"]
            return (drainage[:2], other[0].id, other[0].agency) if len(drainage) > 1 else None

        picked = await eventually(tasks)
        assert picked, "the citywide warning dispatched tasks"
        (by_http, by_cli), by_kafka, kafka_agency = picked
        answered = await http.post(f"/agency/tasks/{by_http}/acknowledge", headers=bearer(desk))
        assert answered.status_code == 200, answered.text
        acked = await run_tidegate(s, "agency", "ack", by_cli, "--by", "crew 2", token=desk)
        assert acked.returncode == ExitCode.OK, acked.stderr
        topic = events_topic(s, kafka_agency)
        answer = {"task_id": by_kafka, "kind": "acknowledge", "by": "scada"}
        await produce(s, [json.dumps(answer).encode()], topic=topic)

        applied = await run_tidegate(s, "plan", "apply", str(plan), token=duty)
        assert applied.returncode == ExitCode.OK, applied.stderr
        drilled = await run_tidegate(
            s, "drill", "run", str(storm), "--fast", "--json", "--cooldown-hours", "0.5",
            "--tail-hours", "0.5", token=trainer,
        )  # fmt: skip
        assert drilled.returncode == ExitCode.OK, drilled.stderr[-3000:]

        async def complete() -> list[dict[str, Any]] | None:
            rows = await exported(s)
            kafka = [e for e in rows if e["source"].startswith("kafka:")]
            return rows if len(kafka) >= 2 else None

        rows = await eventually(complete)
        assert rows, "the Kafka warning and answer reached the trail"

    alerts_topic = s.topic("alerts")
    kafka_user = topic_principal(
        topic, kafka_agency, authenticated=s.kafka_security_protocol != "PLAINTEXT"
    ).name
    expected = sorted(
        [
            ("duty-zhang", "duty_officer", "warning.received", "storm-cli-1", "ok", "cli"),
            ("hq-li", "hq_commander", "warning.received", "storm-http-1", "ok", "http"),
            (f"kafka:{alerts_topic}", "feed", "warning.received", "storm-kafka-1", "ok",
             f"kafka:{alerts_topic}"),
            ("observer-chen", "observer", "refused", "tidegate alert issue", "refused", "cli"),
            ("desk-drainage", "agency_desk:drainage", "task.answered", by_http, "ok", "http"),
            ("desk-drainage", "agency_desk:drainage", "task.answered", by_cli, "ok", "cli"),
            (kafka_user, f"agency_system:{kafka_agency}", "task.answered", by_kafka, "ok",
             f"kafka:{topic}"),
            ("duty-zhang", "duty_officer", "plan.applied", f"response-{s.region}", "ok", "cli"),
            ("trainer-wu", "trainer", "drill.started", "audit-storm", "ok", "cli"),
        ]
    )  # fmt: skip
    setup = {"user.added", "token.created"}
    got = sorted(
        (e["actor"], e["role"], e["action"], e["target"], e["outcome"], e["source"].split(" ")[0])
        for e in rows
        if e["action"] not in setup
    )
    assert got == expected
    assert sum(1 for e in rows if e["action"] in setup) == 2 * 5  # the five accounts
    by_action = {(e["action"], e["target"]): e for e in rows}
    assert by_action["warning.received", "storm-cli-1"]["detail"]["decision"] == "apply"
    assert by_action["warning.received", "storm-kafka-1"]["detail"]["hazard"] == "flood"
    assert by_action["task.answered", by_cli]["detail"]["by"] == "desk-drainage: crew 2"
    assert by_action["task.answered", by_kafka]["detail"]["by"] == "scada"
    assert by_action["plan.applied", f"response-{s.region}"]["detail"]["version"].endswith("-audit")
