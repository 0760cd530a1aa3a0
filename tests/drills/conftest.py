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


@pytest.fixture(scope="session")
def small_plan_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled plan with the same rules but a fraction of the actions, for e2e drills.

    Levels depend only on ``rules.yaml``, which is untouched; keeping the citywide actions and
    the grid centres' district actions cuts a storm from ~500 tasks to ~60, so every bundled
    storm can be replayed end to end in seconds.
    """
    import shutil

    import yaml

    from plans.loader import DEFAULT_PLAN_PATH

    path = tmp_path_factory.mktemp("plans") / "small"
    shutil.copytree(DEFAULT_PLAN_PATH, path)
    for file in (path / "actions").glob("*.yaml"):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        keep = {
            level: [a for a in actions if a["scope"] == "citywide" or data["agency"] == "grid"]
            for level, actions in data["actions"].items()
        }
        data["actions"] = {level: actions for level, actions in keep.items() if actions}
        file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_plan(path)  # still a valid plan
    return path
