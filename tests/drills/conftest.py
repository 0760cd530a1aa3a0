"""Shared helpers for drill tests: the bundled plan and small timelines written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drills.timeline import Timeline, load_timeline
from plans.loader import load_plan
from plans.model import Plan

HEADER = "name: {name}\ntimezone: Asia/Shanghai\nevents:\n"


def event(at: str, kind: str = "warning", **fields: object) -> str:
    """One YAML event entry (values written as flow YAML)."""
    lines = [f'  - at: "{at}"', f"    kind: {kind}"]
    for key, value in fields.items():
        if isinstance(value, list | tuple):
            value = "[" + ", ".join(str(v) for v in value) + "]"
        lines.append(f"    {key}: {value}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plan()


@pytest.fixture
def make_timeline(tmp_path: Path) -> Callable[..., Timeline]:
    def make(*events: str, name: str = "Test storm", slug: str = "test-storm") -> Timeline:
        path = tmp_path / f"{slug}.yaml"
        path.write_text(HEADER.format(name=name) + "".join(events), encoding="utf-8")
        return load_timeline(path)

    return make
