"""What the CLI prints: ids are never cut on a narrow terminal; ``--json`` shapes are stable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from cli.status import RUNNING, Board, _print
from config.settings import Settings
from drills.timeline import bundled_storms
from store.models import EscalationRecord, ResponseRecord, TaskRecord
from store.queries import ResponseOverview
from tests.e2e.harness import tidegate

NOW = datetime(2026, 9, 20, 6, 0, tzinfo=UTC)
RESPONSE = "response-shanghai-with-a-rather-long-region-name-3f2a9c1e"
TASK = f"{RESPONSE}/drainage.station-storm-mode@pudong/ps-pudong-with-a-long-asset-id~2"


def _board() -> Board:
    response = ResponseRecord(
        id=RESPONSE,
        region="shanghai",
        drill=False,
        plan_id="shanghai",
        plan_version="2026.1",
        plan_hash="x",
        levels={"pudong": "IV"},
        status="active",
        started_at=NOW,
        updated_at=NOW,
    )
    task = TaskRecord(
        id=TASK,
        response_id=RESPONSE,
        plan_task_id="drainage.station-storm-mode@pudong/ps-pudong-with-a-long-asset-id",
        action_id="drainage.station-storm-mode",
        agency="drainage",
        area="pudong",
        asset="ps-pudong-with-a-long-asset-id",
        hazard="flood",
        response_level="IV",
        state="escalated",
        drill=False,
        plan_version="2026.1",
        issued_at=NOW - timedelta(hours=2),
        deadline_at=NOW - timedelta(minutes=30),
        updated_at=NOW,
    )
    step = EscalationRecord(
        key=f"{TASK}#esc1",
        task_id=TASK,
        response_id=RESPONSE,
        kind="supervision",
        to="district_hq",
        at=NOW - timedelta(minutes=20),
    )
    board = Board(ResponseOverview(response, [task]), "response-shanghai", RUNNING)
    board.in_force = []
    board.steps = {TASK: [step]}
    return board


def test_ids_fold_on_a_narrow_terminal_and_are_never_cut() -> None:
    console = Console(width=60, force_terminal=True, record=True, color_system=None)
    _print(console, _board(), False, NOW)
    text = console.export_text()
    assert "…" not in text
    # The task column is the first: its fragments, joined, give the id back whole.
    fragments = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert TASK in "".join(fragments)
    assert "escalated tasks" in text and "overdue tasks" in text


def test_drill_storms_json(settings: Settings) -> None:
    out = tidegate(settings, "drill", "storms", "--json")
    assert out.returncode == 0, out.stderr
    storms = json.loads(out.stdout)["storms"]
    assert [s["storm"] for s in storms] == bundled_storms()
    keys = {"storm", "name", "name_zh", "year", "timezone", "from", "to", "timed", "warnings"}
    for storm in storms:
        assert set(storm) == keys | {"hq_levels"}
        assert datetime.fromisoformat(storm["from"]) <= datetime.fromisoformat(storm["to"])
