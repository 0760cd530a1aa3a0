"""``tidegate plan check|explain|diff``: exit codes, JSON shape, and no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.plan import app
from plans.loader import DEFAULT_PLAN_PATH
from tests.plans.helpers import edit

runner = CliRunner()


def test_check_bundled_plan_ok() -> None:
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "ok plan shanghai" in result.output


def test_check_broken_plan_exits_1_with_location(copy: Path) -> None:
    target = copy
    edit(target / "actions" / "grid.yaml", "scope: district", "scope: nowhere")
    result = runner.invoke(app, ["check", str(target)])
    assert result.exit_code == 1
    assert "grid.yaml:" in result.output and "actions.IV[0].scope" in result.output
    assert "Traceback" not in result.output
    as_json = runner.invoke(app, ["check", str(target), "--json"])
    document = json.loads(as_json.stdout)
    assert document["ok"] is False and document["errors"] == 1
    assert document["problems"][0]["field"] == "actions.IV[0].scope"


def test_check_missing_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "none")])
    assert result.exit_code == 1 and "not a plan directory" in result.output


def test_explain_json() -> None:
    result = runner.invoke(
        app, ["explain", "--warning", "typhoon=orange", "--warning", "rainstorm=red", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["levels"]["citywide"] == "I"
    assert set(document["levels"].values()) == {"I"}
    task = next(t for t in document["tasks"] if t["id"] == "drainage.prelower@pudong")
    assert task["agency"] == "drainage"
    assert task["action"] == "drainage.prelower"
    assert task["area"] == "pudong"
    assert task["deadline_minutes"] == 120
    assert task["instructions"]["zh"].startswith("浦东新区")
    assert [s["kind"] for s in task["escalation"]] == ["reminder", "supervision", "warning"]


def test_explain_area_and_only() -> None:
    result = runner.invoke(
        app,
        ["explain", "-w", "gale=yellow", "-w", "tide=blue@上海", "--area", "Pudong", "--json"],
    )
    document = json.loads(result.stdout)
    assert document["warnings"][0]["areas"] == ["pudong"]
    assert document["levels"]["pudong"] == "III"
    assert document["levels"]["citywide"] == "IV"
    only = runner.invoke(app, ["explain", "-w", "wind=red", "--only", "浦东新区", "--json"])
    document = json.loads(only.stdout)
    assert set(document["levels"]) == {"pudong"}
    assert {t["area"] for t in document["tasks"]} == {"pudong"}


def test_explain_reads_areas_as_intake_does() -> None:
    """One area reader: codes, city-qualified names and lists (``、``, "and") work in explain."""
    result = runner.invoke(
        app,
        [
            "explain",
            "-w",
            "tide=blue@上海市浦东新区、奉贤区",
            "-w",
            "wind=blue@Minhang and Songjiang, Shanghai",
            "-w",
            "rainstorm=blue",
            "--area",
            "310104",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    areas = [w["areas"] for w in json.loads(result.stdout)["warnings"]]
    assert areas == [["pudong", "fengxian"], ["minhang", "songjiang"], ["xuhui"]]
    unknown = runner.invoke(app, ["explain", "-w", "tide=blue@浦东、火星"])
    assert unknown.exit_code == 1
    assert "unknown area '火星' in '浦东、火星'" in unknown.output.replace("\n", "")


def test_explain_human_output() -> None:
    result = runner.invoke(app, ["explain", "-w", "rainstorm=blue"])
    assert result.exit_code == 0
    assert "drainage.prelower@huangpu" in result.output
    assert "tidegate.tasks.sanitation" in result.output


def test_explain_bad_input_exits_1_without_traceback() -> None:
    for args in (["-w", "hail=red"], ["-w", "wind=purple"], ["-w", "wind=red@atlantis"]):
        result = runner.invoke(app, ["explain", *args])
        assert result.exit_code == 1, args
        assert "error:" in result.output and "Traceback" not in result.output


def test_explain_invalid_plan_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["explain", "-w", "wind=red", "--plan", str(tmp_path)])
    assert result.exit_code == 1 and "invalid" in result.output


def test_diff(copy: Path) -> None:
    target = copy
    edit(target / "actions" / "media.yaml", "deadline_minutes: 60", "deadline_minutes: 45")
    same = runner.invoke(app, ["diff", str(DEFAULT_PLAN_PATH), str(DEFAULT_PLAN_PATH)])
    assert same.exit_code == 0 and "same content" in same.output
    result = runner.invoke(app, ["diff", str(DEFAULT_PLAN_PATH), str(target)])
    assert result.exit_code == 0
    assert "~ media.screens" in result.output and "bump 'version'" in result.output
    document = json.loads(
        runner.invoke(app, ["diff", str(DEFAULT_PLAN_PATH), str(target), "--json"]).stdout
    )
    assert document["is_empty"] is False
    assert {c["hazard"] for c in document["levels"]} == {"wind", "rainstorm", "tide", "flood"}
