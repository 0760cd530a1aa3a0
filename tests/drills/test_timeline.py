"""Storm timelines: every bundled storm loads; malformed ones fail naming entry and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.timeline import (
    STORMS_DIR,
    EventKind,
    StormHazard,
    TimelineError,
    bundled_storms,
    find_storm,
    load_timeline,
)

GOOD = """\
name: Test storm
timezone: Asia/Shanghai
events:
  - at: "2021-07-23T07:00+08:00"
    kind: warning
    hazard: typhoon
    action: issue
    level: blue
    areas: [citywide]
    confidence: high
  - at: "2021-07-23T08:00"
    kind: response
    hazard: typhoon
    action: start
    level: IV
    areas: [citywide]
  - at: "2021-07-23T09:00+08:00"
    kind: landfall
    areas: [Pinghu (Zhejiang)]
untimed_events:
  - date: "2021-07-24"
    kind: warning
    note: no time found
"""


def write(tmp_path: Path, text: str, name: str = "storm.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(TimelineError) as caught:
        load_timeline(write(tmp_path, text))
    return [str(p) for p in caught.value.problems]


def test_every_bundled_storm_loads_in_time_order() -> None:
    slugs = bundled_storms()
    assert len(slugs) >= 7
    for slug in slugs:
        timeline = load_timeline(slug)
        assert timeline.slug == slug
        assert timeline.sources, f"{slug} keeps its sources"
        times = [e.at for e in timeline.events]
        assert times == sorted(times)
        assert all(e.at.tzinfo is not None for e in timeline.events)


def test_a_bundled_storm_is_found_by_part_of_its_name_or_by_path() -> None:
    assert find_storm("in-fa") == STORMS_DIR / "2021-in-fa.yaml"
    assert find_storm(str(STORMS_DIR / "2019-lekima.yaml")).name == "2019-lekima.yaml"
    with pytest.raises(TimelineError, match="matches 2013-0913-rainstorm, 2013-fitow"):
        find_storm("2013")
    with pytest.raises(TimelineError, match="nothing matches"):
        find_storm("katrina")


def test_a_good_timeline_becomes_frozen_dataclasses(tmp_path: Path) -> None:
    timeline = load_timeline(write(tmp_path, GOOD))
    first, second, third = timeline.events
    assert first.kind is EventKind.WARNING and first.hazard is StormHazard.TYPHOON
    assert (first.action, first.level, first.areas) == ("issue", "blue", ("citywide",))
    assert second.at.utcoffset() == first.at.utcoffset()  # no offset: the timeline's zone
    assert third.kind is EventKind.LANDFALL and third.action is None
    assert timeline.untimed_events[0].date.isoformat() == "2021-07-24"
    with pytest.raises(AttributeError):
        first.level = "red"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("level: blue", "level: amber"),
            "events[0] (at 2021-07-23T07:00:00+08:00).level: 'amber'",
        ),
        (
            ("hazard: typhoon\n    action: issue", "hazard: hail\n    action: issue"),
            ".hazard: 'hail'",
        ),
        (("action: issue", "action: raise"), "events[0] (at 2021-07-23T07:00:00+08:00).action"),
        (
            ("    confidence: high\n", "    confidence: high\n    colour: blue\n"),
            "unknown key 'colour'",
        ),
        (('at: "2021-07-23T07:00+08:00"', 'at: "23 July 07:00"'), "events[0].at: '23 July 07:00'"),
        (("level: IV", "level: V"), "events[1] (at 2021-07-23T08:00:00+08:00).level: 'V'"),
        (("timezone: Asia/Shanghai", "timezone: Mars/Olympus"), "timezone: 'Mars/Olympus'"),
        (("    areas: [citywide]\n    confidence", "    confidence"), "a warning needs 'areas'"),
        (
            ("action: start\n    level: IV\n", "action: start\n"),
            "a response needs 'level' unless it ends",
        ),
        (("2021-07-23T09:00+08:00", "2021-07-22T09:00+08:00"), "out of order"),
        (('  - date: "2021-07-24"', '  - date: "24 Jul"'), "untimed_events[0].date"),
    ],
)
def test_a_malformed_timeline_names_the_entry_and_field(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(expected in p for p in found), found
    assert all("storm.yaml:" in p for p in found), "every problem names the file and line"


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("level: blue", "level: amber").replace("kind: landfall", "kind: flyby")
    found = problems(tmp_path, text)
    assert len(found) == 2
    assert "events[2] (at 2021-07-23T09:00:00+08:00).kind" in found[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "file is empty"),
        ("name: [unclosed\n", "invalid YAML"),
        ("- just a list\n", "expected a mapping"),
        ("name: x\ntimezone: UTC\nevents: []\n", "at least one timed event"),
        ("timezone: UTC\nevents: []\n", "missing required key 'name'"),
    ],
)
def test_files_that_are_not_timelines_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert any(expected in p for p in problems(tmp_path, text))


def test_the_error_message_lists_the_problems(tmp_path: Path) -> None:
    with pytest.raises(TimelineError) as caught:
        load_timeline(write(tmp_path, GOOD.replace("level: blue", "level: amber")))
    assert "invalid storm timeline: 1 error(s)" in str(caught.value)
    assert "amber" in str(caught.value)


def test_the_cli_refuses_a_malformed_timeline_naming_the_entry(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    path = write(tmp_path, GOOD.replace("level: blue", "level: amber"))
    result = CliRunner().invoke(app, ["drill", "run", str(path), "--fast", "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "events[0] (at 2021-07-23T07:00:00+08:00).level: 'amber'" in result.output
