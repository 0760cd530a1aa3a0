"""``tidegate alert validate``: offline checks with ACCEPT/REJECT lines or one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.alerts_offline import register
from tests.alerts.factories import SAMPLES, json_payload

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    alert = typer.Typer()

    @alert.callback()
    def group() -> None:
        """The ``alert`` sub-app stand-in (a callback keeps ``validate`` a sub-command)."""

    register(alert)
    return alert


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    path.write_bytes(json_payload(areas=["火星"]))
    return path


def test_all_samples_are_accepted_with_exit_0(app: typer.Typer) -> None:
    files = sorted(str(p) for p in SAMPLES.iterdir())
    result = runner.invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(files)
    assert all(line.startswith("ACCEPT ") for line in lines)
    typhoon = next(line for line in lines if "typhoon_orange_alert" in line)
    assert typhoon.endswith("SH-MET-2024-0915-TY-001 actual alert wind orange citywide -> live")
    assert any(line.endswith("-> drill") for line in lines)
    assert any(line.endswith("-> ignored") for line in lines)


def test_a_rejected_file_gives_its_reason_and_exit_1(app: typer.Typer, bad: Path) -> None:
    good = SAMPLES / "rainstorm_blue_alert.xml"
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    accept, reject = result.output.splitlines()
    assert accept.startswith(f"ACCEPT {good}: ")
    assert reject == f"REJECT {bad}: areas: unknown area '火星'"


def test_json_output_is_one_object(app: typer.Typer, bad: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.xml"
    good = SAMPLES / "rainstorm_orange.json"
    result = runner.invoke(app, ["validate", "--json", str(good), str(bad), str(missing)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["accepted"], report["rejected"]) == (1, 2)
    first, second, third = report["files"]
    assert first["verdict"] == "accept"
    assert first["route"] == "live"
    assert first["alert"]["areas"] == ["pudong", "jinshan", "fengxian"]
    assert second == {
        "file": str(bad),
        "verdict": "reject",
        "reason": "unknown area '火星'",
        "field": "areas",
        "code": "schema",
    }
    assert third["code"] == "io"
    assert "cannot read the file" in third["reason"]


def test_max_bytes_applies_before_reading(app: typer.Typer) -> None:
    sample = SAMPLES / "typhoon_orange_alert.xml"
    result = runner.invoke(app, ["validate", "--max-bytes", "100", str(sample)])
    assert result.exit_code == 1
    size = sample.stat().st_size
    assert f"payload is {size} bytes, over the limit of 100 bytes" in result.output


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfe<\x00", "UTF-16"),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "forbidden XML construct"),
        (b"", "payload is empty"),
    ],
)
def test_hostile_and_broken_files_are_rejected(
    app: typer.Typer, tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "payload"
    path.write_bytes(content)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"REJECT {path}: ")
    assert words in result.output


def test_a_directory_is_rejected_not_crashed_on(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot read the file" in result.output


def test_area_names_come_from_the_plan(app: typer.Typer, tmp_path: Path) -> None:
    river = tmp_path / "river.json"
    river.write_bytes(json_payload(hazard="tide", areas=["黄浦江"]))
    result = runner.invoke(app, ["validate", str(river)])
    assert result.exit_code == 0, result.output
    assert "tide blue citywide -> live" in result.output


def test_an_invalid_plan_is_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--plan", str(tmp_path), str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "cannot use the plan" in result.output
