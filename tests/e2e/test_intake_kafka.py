"""Warnings over Kafka, end to end: ``tidegate.alerts`` → the production worker's consumer →
the response workflow → tasks on Kafka and rows in the database; refused payloads → the
dead-letter topic and the ``rejections`` table, with the consumer still running.

Real Kafka, the real Temporal dev server, the real database (SQLite and PostgreSQL; the
fuzz and restart tests pin SQLite: they are about the consumer, not the dialect) and the worker
exactly as ``worker.py`` runs it. Each test has topics of its own (see ``conftest.py``).
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import TopicPartition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment

from alerts import kafka
from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from config.kafka import client_options
from config.settings import Settings
from plans.model import ActiveWarning, Hazard, Level
from tests.alerts.factories import CAP_SAMPLES, mutated
from tests.alerts.strategies import (
    JSON_SAMPLES,
    cap_documents,
    edge_alert_documents,
    hostile_json,
    hostile_xml,
    json_documents,
)
from tests.e2e.harness import collect, eventually, prepare, running_worker
from tests.e2e.intake import (
    PLAN,
    ago,
    cap_alert,
    decisions,
    headers,
    json_alert,
    produce,
    read,
    rejections,
    tasks_for,
    warnings,
)
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id

pytestmark = pytest.mark.e2e

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&e;</alert>'
)
BAD = [
    b"not a warning",
    b'{"id": "half-a-warning"}',
    XXE,
    "预警".encode("utf-16"),
    b"",
    json_alert("on-mars", areas=["火星"]),
]
"""One of each kind of refusal: not JSON/XML, missing fields, XXE, UTF-16, empty, unknown area."""


def _task_topics(settings: Settings, *, drill: bool = False) -> list[str]:
    return [settings.topic(f"tasks.{a.id}", drill=drill) for a in PLAN.agencies]


async def test_json_and_cap_warnings_dispatch_tasks_and_bad_payloads_are_dead_lettered(
    e2e_settings: Settings,
) -> None:
    s = e2e_settings
    await prepare(s)
    stream = [BAD[0], json_alert("kafka-json-1"), *BAD[1:4], cap_alert("kafka-cap-1"), *BAD[4:]]
    async with running_worker(s):
        await produce(s, stream)
        expected = tasks_for(
            ActiveWarning(Hazard.TIDE, Level.BLUE, ("jinshan",)),
            ActiveWarning(Hazard.RAINSTORM, Level.BLUE, ("fengxian",)),
        )
        response = response_workflow_id(s.region, drill=False)
        messages = await collect(
            s,
            _task_topics(s),
            lambda m: m.get("type") == "task",
            count=len(expected),
        )
        assert sorted(m["task_id"].split("/", 1)[1] for m in messages) == sorted(
            t.id for t in expected
        )
        assert all(m["response_id"].startswith(f"{response}-") for m in messages)

        dead = await read(s, [s.topic("alerts.dlq")], count=len(BAD))
        assert [d.value for d in dead] == BAD  # original bytes, in order
        for record in dead:
            assert headers(record)["reason"]
            assert headers(record)["source"].startswith(f"{s.topic('alerts')}:0:")
        reasons = [headers(d)["reason"] for d in dead]
        assert "areas: unknown area '火星'" in reasons
        assert any("forbidden XML construct" in r for r in reasons)
        assert any("UTF-16" in r for r in reasons)

        refused = await eventually(lambda: _count(rejections(s), len(BAD)))
        assert [r.payload for r in refused] == BAD
        assert {r.channel for r in refused} == {f"kafka:{s.topic('alerts')}"}
        assert [r.reason for r in refused] == reasons

        # Still consuming after all that: a later warning is routed too.
        await produce(s, [json_alert("kafka-json-2", areas=["Huangpu River"])])
        recorded = await eventually(lambda: _has(warnings(s), "kafka-json-2"))
        assert recorded["kafka-json-2"].areas == ["citywide"]
        assert recorded["kafka-json-1"].decision == "apply"
        assert recorded["kafka-cap-1"].decision == "apply"
        assert recorded["kafka-cap-1"].hazard == "rainstorm"


async def test_exercise_goes_to_the_drill_response_and_test_status_is_ignored(
    e2e_settings: Settings,
) -> None:
    s = e2e_settings
    await prepare(s)
    async with running_worker(s):
        await produce(
            s,
            [
                json_alert("kafka-test-1", status="test"),
                cap_alert(
                    "kafka-exercise-1", status="Exercise", event="高潮位蓝色预警", area="金山"
                ),
            ],
        )
        expected = tasks_for(ActiveWarning(Hazard.TIDE, Level.BLUE, ("jinshan",)))
        drill = response_workflow_id(s.region, drill=True)
        messages = await collect(
            s, _task_topics(s, drill=True), lambda m: True, count=len(expected)
        )
        assert len(messages) == len(expected)
        assert all(m["drill"] is True for m in messages)
        assert all(m["response_id"].startswith(f"{drill}-") for m in messages)

        recorded = await eventually(lambda: _has(warnings(s), "kafka-exercise-1"))
        assert recorded["kafka-exercise-1"].status == "exercise"
        assert recorded["kafka-exercise-1"].response_id.startswith(f"{drill}-")
        # The test message came first on the same partition, so it has been handled: ignored,
        # neither recorded as a warning nor refused.
        assert "kafka-test-1" not in recorded
        assert await rejections(s) == []

        live = [*_task_topics(s), s.topic("notices"), s.topic("escalations")]
        assert await read(s, live, count=1, within=2.0) == []


async def test_duplicates_take_effect_once_and_an_early_update_is_held_then_applied(
    e2e_settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    s = e2e_settings
    await prepare(s)
    first = json_alert("dup-1", sent=ago(120))
    relayed = json_alert("dup-1-relay", sent=ago(110), headline="warning dup-1")  # same content
    update = json_alert(
        "late-2-update",
        sent=ago(30),
        kind="update",
        references=["late-2"],
        hazard="rainstorm",
        level="yellow",
        areas=["奉贤区"],
    )
    original = cap_alert("late-2", sent=ago(60))
    async with running_worker(s):
        await produce(s, [first, first, relayed, update, original])

        def settled(found: dict[str, list[str]]) -> dict[str, list[str]] | None:
            return found if len(found.get("late-2-update", [])) == 2 else None

        seen = await eventually(lambda: _check(decisions(s), settled))
        assert seen["dup-1"] == ["apply", "duplicate"]  # same id again
        assert seen["dup-1-relay"] == ["duplicate"]  # same content, new id
        assert seen["late-2"] == ["apply"]
        assert seen["late-2-update"] == ["held", "apply"]  # held until late-2 came

        handle = temporal_env.client.get_workflow_handle(response_workflow_id(s.region, False))
        status = await handle.query(ResponseWorkflow.status)
        assert sorted(status.active_warnings) == ["dup-1", "late-2-update"]
        assert status.levels == {"jinshan": "IV", "fengxian": "III"}
        assert len(await warnings(s)) == 4
        assert await rejections(s) == []


# -- fuzz through Kafka ----------------------------------------------------------------------

FUZZ_SEED = 20261126
VALID_EVERY = 20


def _draw(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` examples of ``strategy``, the same ones on every run (derandomized)."""
    drawn: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect_examples(example: Any) -> None:
        drawn.append(example)

    collect_examples()
    return drawn


def _noise() -> list[bytes]:
    """About 1,100 malformed payloads of every kind the parser fuzz test knows."""
    rng = random.Random(FUZZ_SEED)
    payloads: list[bytes] = [rng.randbytes(rng.randint(0, 2048)) for _ in range(150)]
    payloads += _draw(mutated(JSON_SAMPLES), 150)
    payloads += _draw(mutated(CAP_SAMPLES), 150)
    payloads += _draw(json_documents(), 120)
    payloads += _draw(cap_documents(), 120)
    payloads += [payload for payload, _ in _draw(hostile_xml(), 180)]
    payloads += _draw(hostile_json(), 120)
    payloads += _draw(edge_alert_documents(), 100)  # lone surrogates, NUL, huge numbers ...
    rng.shuffle(payloads)
    return payloads


def _refused(payload: bytes, settings: Settings) -> str | None:
    try:
        parse_alert(payload, plan=PLAN, max_bytes=settings.max_alert_bytes)
    except AlertRejected as exc:
        return str(exc)
    return None


@SQLITE_ONLY
async def test_a_thousand_malformed_payloads_are_dead_lettered_and_valid_ones_still_routed(
    e2e_settings: Settings,
) -> None:
    s = e2e_settings
    await prepare(s)
    noise = _noise()
    stream: list[bytes] = []
    valid: list[str] = []
    for i, payload in enumerate(noise):
        if i % VALID_EVERY == 0:
            alert_id = f"fuzz-valid-{i}"
            make = json_alert if len(valid) % 2 else cap_alert
            stream.append(make(alert_id))
            valid.append(alert_id)
        stream.append(payload)
    # What intake must refuse, by the same function every channel uses (a mutation may leave
    # a sample valid: it is routed like any warning, and counted out of the dead letters).
    expected_dead = [p for p in stream if _refused(p, s) is not None]
    assert len(stream) >= 1000 and len(expected_dead) >= 900

    started = time.monotonic()
    async with running_worker(s):
        await produce(s, stream)
        dead = await read(s, [s.topic("alerts.dlq")], count=len(expected_dead), within=90)
        assert [d.value for d in dead] == expected_dead
        assert all(headers(d)["reason"] for d in dead)
        assert not [h for d in dead if "internal error" in (h := headers(d)["reason"])]
        # None got past the parser to break a layer behind it ("cannot be handled (...)").
        assert not [h for d in dead if (h := headers(d)["reason"]).startswith("cannot be")]

        recorded = await eventually(lambda: _has(warnings(s), *valid), within=60)
        assert set(valid) <= set(recorded)
        assert all(recorded[v].decision == "apply" for v in valid)
        refused = await eventually(lambda: _count(rejections(s), len(expected_dead)))
        assert len(refused) == len(expected_dead)

        # Zero crashes: the consumer is alive and its offset has passed every message.
        await produce(s, [json_alert("fuzz-sentinel")])
        assert await eventually(lambda: _has(warnings(s), "fuzz-sentinel"))
        assert await _committed(s) == len(stream) + 1
    assert time.monotonic() - started < 120


# -- at-least-once, without duplicates ------------------------------------------------------

STREAM_LENGTH = 250


@SQLITE_ONLY
async def test_stopping_the_worker_mid_stream_loses_nothing_and_duplicates_nothing(
    e2e_settings: Settings, temporal_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 10, not 500: the whole stream would otherwise be one batch, committed at once.
    monkeypatch.setattr(kafka, "MAX_BATCH", 10)
    s = e2e_settings
    await prepare(s)
    ids = [f"stream-{i:03d}" for i in range(STREAM_LENGTH)]
    # Same hazard, level and area, different headlines: each is a warning of its own.
    stream = [json_alert(alert_id, sent=ago(60)) for alert_id in ids]
    stream += stream[:10]  # and some re-sends
    await produce(s, stream)

    async with running_worker(s):
        stopped_at = await eventually(lambda: _check(_committed(s), lambda n: n >= 1), 30)
    committed = await _committed(s)
    assert stopped_at and committed < len(stream), "the worker was not stopped mid-stream"

    async with running_worker(s):
        recorded = await eventually(lambda: _has(warnings(s), *ids), within=60)
        assert await eventually(lambda: _check(_committed(s), lambda n: n == len(stream)))
        # The re-sends come last: once they are decided, everything is.
        seen = await eventually(
            lambda: _check(decisions(s), lambda d: all(len(d[i]) == 2 for i in ids[:10]))
        )
        handle = temporal_env.client.get_workflow_handle(response_workflow_id(s.region, False))
        status = await handle.query(ResponseWorkflow.status)
    assert sorted(recorded) == ids
    assert all(row.decision == "apply" for row in recorded.values())
    # Each id was applied exactly once; a re-read or re-sent copy is only ever a duplicate.
    assert all(d[0] == "apply" and set(d[1:]) <= {"duplicate"} for d in seen.values())
    assert sorted(status.active_warnings) == ids


# -- helpers ---------------------------------------------------------------------------------


async def _has(found: Any, *ids: str) -> Any:
    rows = await found
    return rows if all(i in rows for i in ids) else None


async def _count(found: Any, count: int) -> Any:
    rows = await found
    return rows if len(rows) >= count else None


async def _check(found: Any, ok: Any) -> Any:
    value = await found
    return value if ok(value) else None


async def _committed(s: Settings) -> int:
    """The alert consumer group's committed offset on the (single) alert partition."""
    admin = AIOKafkaAdminClient(**client_options(s))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{s.consumer_group}.alerts")
    except GroupCoordinatorNotAvailableError:  # a fresh broker's offsets topic is not up yet
        return 0
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(s.topic("alerts"), 0))
    return meta.offset if meta is not None and meta.offset >= 0 else 0
