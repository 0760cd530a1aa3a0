"""The dev stack's task topics come from the plan's agencies; it keeps no list of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from devstack.errors import DevstackError
from devstack.run import resolve_agencies
from plans.loader import load_plan


def test_the_task_topics_are_the_plans_agencies() -> None:
    settings = load_settings()
    agencies = [agency.id for agency in load_plan(settings.plan_path).agencies]
    # The old hard-coded fallback had ten of them and forgot 'water'.
    assert "water" in agencies
    assert resolve_agencies(settings, None) == agencies
    assert resolve_agencies(settings, ["drainage"]) == ["drainage"]


def test_an_unreadable_plan_stops_the_stack_with_a_reason(tmp_path: Path) -> None:
    settings = load_settings(plan_path=tmp_path / "no-plan")
    with pytest.raises(DevstackError, match="--agencies") as caught:
        resolve_agencies(settings, None)
    assert "not a plan directory" in str(caught.value)
    assert resolve_agencies(settings, ["drainage"]) == ["drainage"]
