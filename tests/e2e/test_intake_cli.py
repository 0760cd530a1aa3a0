"""Warnings on the command line, end to end: the real ``tidegate`` entry point in a subprocess.

``alert import`` of a CAP file reaches the response workflow; ``alert validate`` needs no
service; a refused ``alert issue`` (or ``cancel``) exits 1 and is recorded in ``rejections``
(channel ``cli``), and still exits 1 with the reason when the database is unreachable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from access.matrix import Role
from cli.exit import ExitCode
from config.settings import Settings
from plans.model import CITYWIDE
from store.models import WarningRecord
from tests.alerts.factories import SAMPLES
from tests.e2e.harness import (
    DEV_TOKEN,
    eventually,
    prepare,
    run_tidegate,
    running_worker,
    tidegate,
    token_of,
)
from tests.e2e.intake import ago, rejections, warnings

pytestmark = pytest.mark.e2e


def _fresh_cap_sample(tmp_path: Path) -> Path:
    """The bundled blue-rainstorm CAP sample, sent just now (the original is years old)."""
    text = (SAMPLES / "rainstorm_blue_alert.xml").read_text(encoding="utf-8")
    text = text.replace("2024-09-20T05:30:00+08:00", ago().isoformat())
    text = text.replace("SH-MET-2024-0920-RS-001", "cli-cap-import-1")
    path = tmp_path / "rainstorm_blue_alert.xml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_import_issue_and_refusals_on_the_command_line(
    e2e_settings: Settings, tmp_path: Path
) -> None:
    s = e2e_settings
    await prepare(s)
    sample = _fresh_cap_sample(tmp_path)
    duty = await token_of(s, Role.DUTY_OFFICER)
    async with running_worker(s):
        imported = await run_tidegate(s, "alert", "import", str(sample), token=duty)
        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.startswith(
            "applied alert cli-cap-import-1: rainstorm blue minhang,pudong,songjiang -> response-"
        )
        river = await run_tidegate(
            s, "alert", "issue", "--hazard", "tide", "--level", "blue", "--area", "黄浦江",
            "--id", "cli-river-1", token=duty,
        )  # fmt: skip
        assert river.returncode == 0, river.stderr

        refused = await run_tidegate(
            s, "alert", "issue", "--hazard", "rainstorm", "--level", "blue", "--area", "火星",
            token=duty,
        )  # fmt: skip
        assert refused.returncode == 1
        assert "REJECT areas: unknown area '火星'" in refused.stderr
        unknown = await run_tidegate(s, "alert", "cancel", "never-issued", token=duty)
        assert unknown.returncode == 1
        assert "no warning 'never-issued' has been received" in unknown.stderr

        recorded = await eventually(lambda: _have(s, "cli-cap-import-1", "cli-river-1"))
        assert recorded["cli-cap-import-1"].areas == ["minhang", "pudong", "songjiang"]
        assert recorded["cli-cap-import-1"].decision == "apply"
        assert recorded["cli-river-1"].areas == [CITYWIDE]  # the river's tide is citywide

    kept = await rejections(s)
    assert [r.channel for r in kept] == ["cli", "cli"]
    assert kept[0].reason == "areas: unknown area '火星'"
    assert json.loads(kept[0].payload)["areas"] == ["火星"]
    assert "never-issued" in kept[1].reason
    assert json.loads(kept[1].payload)["references"] == ["never-issued"]


def test_validate_needs_no_service(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x"}', encoding="utf-8")
    good = SAMPLES / "typhoon_orange_alert.xml"
    ok = tidegate(settings, "alert", "validate", str(good))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"ACCEPT {good}: ")
    mixed = tidegate(settings, "alert", "validate", str(good), str(bad))
    assert mixed.returncode == 1
    assert f"REJECT {bad}: sender: required field is missing" in mixed.stdout


def test_a_refusal_is_still_printed_when_the_database_is_unreachable(settings: Settings) -> None:
    dead = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://tidegate:x@127.0.0.1:9/none"}
    )
    # The development token needs no database: it is honoured with this machine's services.
    out = tidegate(dead, "alert", "issue", "--hazard", "flood", "--level", "pink", token=DEV_TOKEN)
    assert out.returncode == 1
    assert "REJECT level:" in out.stderr
    assert "rejection not recorded" in out.stderr
    assert "Traceback" not in out.stderr
    cancel = tidegate(dead, "alert", "cancel", "SH-1", token=DEV_TOKEN)
    assert cancel.returncode == ExitCode.UNREACHABLE
    assert "ERROR cannot look up 'SH-1'" in cancel.stderr
    assert "Traceback" not in cancel.stderr


async def _have(s: Settings, *ids: str) -> dict[str, WarningRecord] | None:
    found = await warnings(s)
    return found if all(i in found for i in ids) else None
