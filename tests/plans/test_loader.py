"""The loader: the bundled plan is valid, and broken plans fail with file, line and field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from plans.errors import PlanError, Problem, Severity
from plans.loader import DEFAULT_PLAN_PATH, check_plan, load_plan
from plans.model import Hazard, Plan, compute_content_hash


def test_bundled_plan_has_no_problems() -> None:
    assert check_plan() == []


def test_bundled_plan_contents(plan: Plan) -> None:
    assert plan.plan_id == "shanghai"
    assert plan.languages == ("zh", "en")
    assert len(plan.districts) == 16
    assert {a.id for a in plan.agencies} >= {
        "drainage",
        "sanitation",
        "greening",
        "housing",
        "construction",
        "transport",
        "education",
        "grid",
        "linkage",
        "media",
    }
    assert [h.hazard for h in plan.hazards] == list(Hazard)
    assert plan.content_hash == compute_content_hash(plan)
    assert re.fullmatch(r"[0-9a-f]{64}", plan.content_hash)
    assert all(asset.source for asset in plan.assets)


def test_loading_is_deterministic(plan: Plan) -> None:
    assert load_plan(DEFAULT_PLAN_PATH) == plan


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled plan."""
    target = tmp_path / "plan"
    shutil.copytree(DEFAULT_PLAN_PATH, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _errors(path: Path) -> list[Problem]:
    return [p for p in check_plan(path) if p.severity is Severity.ERROR]


def test_content_hash_ignores_comments_but_not_content(copy: Path, plan: Plan) -> None:
    _edit(copy / "rules.yaml", "# How warnings", "# A new comment.\n# How warnings")
    assert load_plan(copy).content_hash == plan.content_hash
    _edit(copy / "actions" / "drainage.yaml", "deadline_minutes: 120", "deadline_minutes: 110")
    assert load_plan(copy).content_hash != plan.content_hash


def test_missing_directory_is_a_problem(tmp_path: Path) -> None:
    [problem] = check_plan(tmp_path / "nowhere")
    assert "not a plan directory" in problem.message
    with pytest.raises(PlanError, match="not a plan directory"):
        load_plan(tmp_path / "nowhere")
