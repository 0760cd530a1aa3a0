"""Shared fixtures for the plan tests: the bundled plan, and a writable copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plans.loader import DEFAULT_PLAN_PATH, load_plan
from plans.model import Plan


@pytest.fixture(scope="session")
def plan() -> Plan:
    """The bundled Shanghai plan."""
    return load_plan()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled plan directory (edit it with ``helpers.edit``)."""
    target = tmp_path / "plan"
    shutil.copytree(DEFAULT_PLAN_PATH, target)
    return target
