"""drill compare: two plan versions over one storm, no services; and the plan replay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from drills.compare import compare_storm, plan_levels
from drills.mapping import map_timeline
from drills.timeline import load_timeline
from plans.loader import DEFAULT_PLAN_PATH, load_plan
from plans.model import CITYWIDE, Plan

COASTAL = ("chongming", "fengxian", "jinshan", "pudong")


@pytest.fixture
def plan_without_coastal_rule(tmp_path: Path) -> Path:
    """The bundled plan without its coastal wind-and-tide compound rule, as version 2025.2."""
    path = tmp_path / "plan-b"
    shutil.copytree(DEFAULT_PLAN_PATH, path)
    rules = path / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    start = text.index("  - id: coastal-wind-tide")
    rules.write_text(text[:start], encoding="utf-8")
    plan_yaml = path / "plan.yaml"
    plan_yaml.write_text(
        plan_yaml.read_text(encoding="utf-8").replace('"2025.1"', '"2025.2"'), encoding="utf-8"
    )
    return path


def test_in_fa_under_the_bundled_plan_follows_its_rules(plan: Plan) -> None:
    replay = plan_levels(map_timeline(load_timeline("in-fa"), plan), plan)
    by_entry = {step.event.index: state.levels for step, state in replay if step.event}
    assert by_entry[0][CITYWIDE] == "IV"  # typhoon blue
    assert by_entry[3][CITYWIDE] == "III"  # rainstorm yellow
    assert (by_entry[5][CITYWIDE], by_entry[5]["pudong"]) == ("III", "II")  # Pudong's own orange
    assert by_entry[7][CITYWIDE] == "II" and by_entry[7]["pudong"] == "II"  # typhoon orange
    # tide orange: typhoon orange and tide at least yellow raise the coastal districts to I
    assert by_entry[8][CITYWIDE] == "II"
    assert all(by_entry[8][d] == "I" for d in COASTAL)
    assert replay[-1][1].levels == {}  # the closing cancellations end the response


def test_compare_shows_where_two_plans_differ(plan: Plan, plan_without_coastal_rule: Path) -> None:
    result = compare_storm(load_timeline("in-fa"), plan, load_plan(plan_without_coastal_rule))
    assert result.plan_a == "shanghai@2025.1" and result.plan_b == "shanghai@2025.2"
    differing = result.differing
    assert differing, "removing the coastal rule changes In-Fa"
    first = differing[0]
    assert first.source.startswith("events[8]")  # the tide orange
    assert {d: first.level_differences[d] for d in COASTAL} == {d: ("I", "II") for d in COASTAL}
    assert not first.only_b  # a higher level only ever adds tasks
    assert len(result.dispatched("a")) >= len(result.dispatched("b"))
    same = compare_storm(load_timeline("in-fa"), plan, plan)
    assert same.differing == []


def test_compare_cli_prints_json(plan_without_coastal_rule: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "drill",
            "compare",
            "in-fa",
            "--plan",
            str(DEFAULT_PLAN_PATH),
            "--plan",
            str(plan_without_coastal_rule),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["storm"] == "2021-in-fa"
    assert data["plan_b"] == "shanghai@2025.2"
    changed = [s for s in data["steps"] if s["level_differences"]]
    assert changed and changed[0]["level_differences"]["pudong"] == ["I", "II"]


def test_compare_cli_tables_and_errors(plan_without_coastal_rule: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "300"})
    shown = runner.invoke(
        app,
        [
            "drill",
            "compare",
            "in-fa",
            "--plan",
            str(DEFAULT_PLAN_PATH),
            "--plan",
            str(plan_without_coastal_rule),
        ],
    )
    assert shown.exit_code == 0, shown.output
    assert "pudong: I -> II" in shown.stdout
    one = runner.invoke(app, ["drill", "compare", "in-fa", "--plan", str(DEFAULT_PLAN_PATH)])
    assert one.exit_code == 2
    missing = runner.invoke(app, ["drill", "compare", "katrina", "--plan", "a", "--plan", "b"])
    assert missing.exit_code == 1 and "nothing matches" in missing.output
