"""Shared fixtures for the plan tests: the bundled plan, loaded once."""

from __future__ import annotations

import pytest

from plans.loader import load_plan
from plans.model import Plan


@pytest.fixture(scope="session")
def plan() -> Plan:
    """The bundled Shanghai plan."""
    return load_plan()
