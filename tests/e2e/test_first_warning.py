"""The first end-to-end slice: a blue rainstorm issued on the CLI puts tasks on Kafka.

Real Temporal dev server, real Kafka, the real database (SQLite and PostgreSQL), the real worker
and the real ``tidegate`` entry point.
"""

from __future__ import annotations

import json

import pytest

from config.settings import Settings
from plans.loader import load_plan
from plans.model import CITYWIDE, ActiveWarning, Hazard, Level
from plans.rules import respond
from tests.e2e.harness import (
    DEV_TOKEN,
    collect,
    eventually,
    prepare,
    run_tidegate,
    running_worker,
)

pytestmark = pytest.mark.e2e


async def test_blue_rainstorm_dispatches_drainage_and_sanitation_tasks(
    e2e_settings: Settings,
) -> None:
    settings = e2e_settings
    await prepare(settings)
    async with running_worker(settings):
        issued = await run_tidegate(
            settings,
            "alert",
            "issue",
            "--hazard",
            "rainstorm",
            "--level",
            "blue",
            "--area",
            "citywide",
            token=DEV_TOKEN,  # as the README's first warning: the development token
        )
        assert issued.returncode == 0, issued.stderr
        assert issued.stdout.startswith("applied alert "), issued.stdout

        plan = load_plan(settings.plan_path)
        warning = ActiveWarning(Hazard.RAINSTORM, Level.BLUE, (CITYWIDE,))
        expected = respond([warning], plan).tasks
        agencies = sorted({task.agency for task in expected})
        assert {"drainage", "sanitation"} <= set(agencies)
        region = f"response-{settings.region}-"
        messages = await collect(
            settings,
            [settings.topic(f"tasks.{agency}") for agency in agencies],
            lambda m: str(m.get("response_id", "")).startswith(region),
            count=len(expected),
        )
        assert sorted(m["task_id"].split("/", 1)[1] for m in messages) == [t.id for t in expected]
        for message in messages:
            assert message["type"] == "task"
            assert message["schema_version"] == 1
            assert message["response_level"] == "IV"
            assert message["hazard"] == "rainstorm"
            assert message["drill"] is False
            assert message["task_id"].startswith(message["response_id"] + "/")
            assert message["instructions"]["zh"] and message["instructions"]["en"]
            assert message["plan_version"]

        async def shown() -> dict[str, object] | None:
            out = await run_tidegate(settings, "status", "--json")
            assert out.returncode == 0, out.stderr
            responses = json.loads(out.stdout)["responses"]
            mine = [r for r in responses if str(r["id"]).startswith(region)]
            done = mine and len(mine[0]["tasks"]) == len(expected) and mine[0]["levels"]
            return mine[0] if done else None

        status = await eventually(shown)
        assert status is not None
        assert status["levels"].get("citywide") == "IV"
        states = {task["state"] for task in status["tasks"]}
        assert states <= {"dispatched", "escalated"}
        recorded = sorted(task["id"] for task in status["tasks"])
        assert recorded == sorted(m["task_id"] for m in messages)
