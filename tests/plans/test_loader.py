"""The loader: the bundled plan is valid, and broken plans fail with file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plans.errors import PlanError
from plans.loader import DEFAULT_PLAN_PATH, check_plan, load_plan
from plans.model import Hazard, Plan, compute_content_hash
from tests.plans.helpers import edit


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


def test_content_hash_ignores_comments_but_not_content(copy: Path, plan: Plan) -> None:
    edit(copy / "rules.yaml", "# How warnings", "# A new comment.\n# How warnings")
    assert load_plan(copy).content_hash == plan.content_hash
    edit(copy / "actions" / "drainage.yaml", "deadline_minutes: 120", "deadline_minutes: 110")
    assert load_plan(copy).content_hash != plan.content_hash


def test_missing_directory_is_a_problem(tmp_path: Path) -> None:
    [problem] = check_plan(tmp_path / "nowhere")
    assert "not a plan directory" in problem.message
    with pytest.raises(PlanError, match="not a plan directory"):
        load_plan(tmp_path / "nowhere")
