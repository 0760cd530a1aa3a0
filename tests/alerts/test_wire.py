"""The wire contracts (``alerts.wire``) are the one statement of every JSON message.

The docs' sections are what the models generate; every message the Kafka activities and the
alert intake send validates against its model, in the byte form the benchmark's floor
replays; each model's example (the one in the docs and in OpenAPI) is valid and agrees with
what the code builds from the same inputs.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, get_args

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from activities.messaging import (
    MessagingActivities,
    PublishEscalationInput,
    PublishNoticesInput,
    PublishStandDownInput,
    PublishTasksInput,
    task_message,
)
from alerts import wire, wire_docs
from alerts.consumer import decision_record
from alerts.decisions import IGNORED, PENDING, DecisionReport
from alerts.http import SubmitResult, create_app
from alerts.intake import parse_alert
from plans.ledger import Decision
from plans.loader import load_plan
from plans.model import CITYWIDE, ActiveWarning, Hazard, Level, Plan, Task
from plans.rules import respond
from plans.warning import Alert
from workflows.converter import DATA_CONVERTER

PLAN = load_plan()
RESPONSE = "response-shanghai-3f2a9c1e"
AT = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
OUTBOUND = (wire.TaskMessage, wire.StandDownMessage, wire.EscalationMessage, wire.NoticeMessage)
BY_TYPE: dict[str, type[wire.Outbound]] = {m.model_fields["type"].default: m for m in OUTBOUND}
T = TypeVar("T")
TEXTS = ("instructions", "text")
"""Rendered texts: the examples abbreviate them."""


def contracts() -> list[type[BaseModel]]:
    return [*wire.Outbound.__subclasses__(), *wire.Inbound.__subclasses__()]


# -- the docs ------------------------------------------------------------------------------------
def test_the_docs_sections_are_what_the_models_generate() -> None:
    assert wire_docs.stale() == [], "run `python -m alerts.wire_docs` and commit the docs"
    assert wire_docs.main(["--check"]) == 0


def test_every_contract_has_a_section_in_the_docs() -> None:
    documented = [model for models in wire_docs.DOCS.values() for model in models]
    assert sorted(m.__name__ for m in documented) == sorted(m.__name__ for m in contracts())


def test_a_section_out_of_step_is_regenerated_and_a_missing_one_refused() -> None:
    text = (wire_docs.ROOT / "docs/messages.md").read_text(encoding="utf-8")
    models = wire_docs.DOCS["docs/messages.md"]
    edited = text.replace("| `dispatch` | integer ≥ 1 |", "| `dispatch` | string |")
    assert edited != text
    assert wire_docs.render(edited, models) == text
    with pytest.raises(ValueError, match="sections of unknown contracts: Gone"):
        wire_docs.render(text.replace("wire:TaskMessage", "wire:Gone"), models)
    start, end = text.index("<!-- wire:TaskMessage"), text.index("<!-- /wire:TaskMessage -->")
    with pytest.raises(ValueError, match="no section for TaskMessage"):
        wire_docs.render(text[:start] + text[end + 30 :], models)


def test_every_field_says_what_it_means() -> None:
    for model in contracts():
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no docstring"


# -- the examples --------------------------------------------------------------------------------
@pytest.mark.parametrize("model", contracts(), ids=lambda m: m.__name__)
def test_each_example_is_valid_and_complete(model: type[BaseModel]) -> None:
    example = model.example  # type: ignore[attr-defined]
    parsed = model.model_validate_json(json.dumps(example), strict=True)
    if isinstance(parsed, wire.Outbound):
        assert json.loads(wire.encode(parsed)) == example
    else:
        assert set(example) == set(model.model_fields) - {"note"}


def test_the_alert_example_passes_intake() -> None:
    alert = parse_alert(json.dumps(wire.AlertDocument.example, ensure_ascii=False).encode())
    assert (alert.id, alert.hazard, alert.level) == (
        "SH-MET-2024-1031-RS-004",
        "rainstorm",
        "orange",
    )
    assert alert.areas == ("pudong", "jinshan", "fengxian")


def test_the_task_examples_are_what_the_activities_send() -> None:
    """The docs' examples are real: the same inputs give the same message (texts abbreviated)."""
    calls = publish_everything(a_task(), PLAN)
    sent = {json.loads(value)["type"]: json.loads(value) for _, _, value in calls.sent}
    for kind, model in BY_TYPE.items():
        real, example = sent[kind], model.example
        assert {k: v for k, v in real.items() if k not in TEXTS} == {
            k: v for k, v in example.items() if k not in TEXTS
        }, kind
        for texts in TEXTS:
            if texts in example:
                assert set(real[texts]) == set(example[texts]) == set(PLAN.languages)


# -- what the code sends -------------------------------------------------------------------------
@dataclass
class Producer:
    """Records what the activities send, as aiokafka's ``send`` would take it."""

    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@dataclass
class Plans:
    plan: Plan

    async def get(self, content_hash: str) -> Plan:
        return self.plan


def topic(name: str, *, drill: bool = False) -> str:
    return f"tidegate.{'drill.' if drill else ''}{name}"


def a_task() -> Task:
    rainstorm = respond([ActiveWarning(Hazard.RAINSTORM, Level.BLUE, (CITYWIDE,))], PLAN)
    return next(t for t in rainstorm.tasks if t.id == "drainage.prelower@pudong")


def through_temporal(inp: T) -> T:
    """``inp`` as the activity receives it: through the worker's data converter."""
    converter = DATA_CONVERTER.payload_converter
    return converter.from_payload(converter.to_payload(inp), type(inp))


def publish_everything(task: Task, plan: Plan, *, drill: bool = False) -> Producer:
    """Run every publishing activity once, as the workflows call them for the docs' example."""
    producer = Producer()
    acts = MessagingActivities(producer, Plans(plan), topic)
    rainstorm = respond([ActiveWarning(Hazard.RAINSTORM, Level.BLUE, (CITYWIDE,))], plan)
    notice = next(n for n in rainstorm.notices if n.id == "media.public-release@citywide/IV")
    task_id = f"{RESPONSE}/{task.id}"

    async def run() -> None:
        escalated = AT + timedelta(minutes=30)
        stood_down = AT.replace(hour=9, minute=10)
        step = task.escalation[1]
        tasks = PublishTasksInput(RESPONSE, drill, "h", (task,), AT)
        await acts.publish_tasks(through_temporal(tasks))
        escalation = PublishEscalationInput(RESPONSE, task_id, drill, "h", task, 1, step, escalated)
        await acts.publish_escalation(through_temporal(escalation))
        notices = PublishNoticesInput(RESPONSE, drill, "h", (notice,), AT)
        await acts.publish_notices(through_temporal(notices))
        stand_down = PublishStandDownInput(RESPONSE, drill, "h", (task,), stood_down)
        await acts.publish_stand_down(through_temporal(stand_down))

    asyncio.run(run())
    return producer


def test_every_message_the_activities_send_validates_against_its_contract() -> None:
    rainstorm = respond([ActiveWarning(Hazard.RAINSTORM, Level.RED, (CITYWIDE,))], PLAN)
    for task in rainstorm.tasks[:40]:
        for drill in (False, True):
            for topic_name, key, value in publish_everything(task, PLAN, drill=drill).sent:
                body = json.loads(value)
                model = BY_TYPE[body["type"]]
                message = model.model_validate_json(value, strict=True)
                assert set(body) == set(model.model_fields), "every field, always"
                assert body["drill"] is drill and topic_name.startswith(topic("", drill=drill))
                assert key.decode() == (body.get("task_id") or body["notice_id"])
                # The bytes the floor of bench/dispatch.py replays: sorted keys, json.dumps'
                # separators, non-ASCII text as it is, times with their offset.
                assert value == json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
                assert wire.encode(message) == value
                assert "+00:00" in value.decode() and "\\u" not in value.decode()


@pytest.mark.parametrize(
    "change",
    [
        {"issued_at": "2026-11-26T06:30:00"},
        {"hazard": "snow"},
        {"dispatch": 0},
        {"dispatch": "1"},
        {"asset": 7},
        {"plan_hash": "h"},
    ],
    ids=["naive-time", "hazard", "dispatch-0", "dispatch-string", "asset", "extra-field"],
)
def test_a_message_off_the_contract_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        wire.TaskMessage.model_validate_json(json.dumps(wire.TaskMessage.example | change))
    with pytest.raises(ValidationError):
        task_message(RESPONSE, a_task(), PLAN, False, AT.replace(tzinfo=None))


def test_a_dispatch_of_a_plan_task_again_is_a_task_of_its_own() -> None:
    message = task_message(RESPONSE, a_task(), PLAN, False, AT, dispatch=2, time_scale=60.0)
    assert (message.task_id, message.dispatch) == (f"{RESPONSE}/drainage.prelower@pudong~2", 2)
    assert (message.deadline - message.issued_at).total_seconds() == 120


def test_decision_records_validate_for_every_decision() -> None:
    assert set(get_args(wire.DecisionValue)) == {d.value for d in Decision} | {PENDING, IGNORED}
    reports = [
        DecisionReport("SH-2", "update", "live", "apply", "replaces SH-1", "wf", "r", "SH-1", AT),
        DecisionReport("SH-3", "cancel", "drill", PENDING, "queued", "wf"),
        DecisionReport("SH-4", "alert", "ignored", IGNORED, "status test", None),
    ]
    for report in reports:
        value = wire.encode(decision_record(report))
        body = json.loads(value)
        wire.DecisionRecord.model_validate_json(value, strict=True)
        assert body == {
            "schema_version": 1,
            "type": "decision",
            **report.to_json(),
            "lookup": f"`tidegate alert show {report.alert_id}` or GET /alerts/{report.alert_id}",
        }


def test_the_schema_version_is_one_fact() -> None:
    assert get_args(wire.SchemaVersion) == (wire.SCHEMA_VERSION,)
    for model in OUTBOUND:
        assert model.model_fields["schema_version"].default == wire.SCHEMA_VERSION


# -- OpenAPI -------------------------------------------------------------------------------------
def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


async def test_openapi_shows_the_contract_that_validates() -> None:
    async def submit(alert: Alert) -> SubmitResult:
        return SubmitResult(None)

    async def lookup(alert_id: str) -> dict[str, Any] | None:
        return None

    app = create_app(submit, lookup, "token")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/alerts"]["post"]["requestBody"]["content"]["application/json"]
    # FastAPI leaves out null values (``"default": null``); nothing else differs.
    assert body["schema"] == without_nulls(wire.AlertDocument.model_json_schema())
    assert "$ref" not in json.dumps(body["schema"]), "embedded as it is: no dangling refs"
    assert body["example"] == wire.AlertDocument.example
