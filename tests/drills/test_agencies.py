"""Simulated agencies: the same seed gives the same answers, whatever the task order."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from drills.agencies import Delay, ProfilesError, load_profiles

TASKS = [f"grid.patrol@district-{i}" for i in range(200)]


def test_the_same_seed_gives_the_same_answers_in_any_order() -> None:
    profiles = load_profiles()
    forward = {t: profiles.decide(7, t, "grid") for t in TASKS}
    backward = {t: profiles.decide(7, t, "grid") for t in reversed(TASKS)}
    assert forward == backward
    other = {t: profiles.decide(8, t, "grid") for t in TASKS}
    assert other != forward


def test_answers_follow_the_profile() -> None:
    profiles = load_profiles()
    answers = [profiles.decide(1, t, "grid") for t in TASKS * 5]
    silent = [a for a in answers if a.acknowledge_after is None]
    assert all(a.complete_after is None for a in silent)
    assert 0 < len(silent) < len(answers) * 0.2  # grid: no_answer 0.08
    acks = [a.acknowledge_after for a in answers if a.acknowledge_after is not None]
    assert all(isinstance(m, int) and m >= 1 for m in acks)
    assert 5 <= statistics.median(acks) <= 11  # grid: median 8
    done = [(a.acknowledge_after, a.complete_after) for a in answers if a.complete_after]
    assert all(ack is not None and complete > ack for ack, complete in done)


def test_delay_median_and_p90() -> None:
    delay = Delay(median=10, p90=40)
    rng = random.Random(3)
    draws = sorted(delay.draw(rng) for _ in range(4000))
    assert 9 <= draws[len(draws) // 2] <= 11
    assert 34 <= draws[int(len(draws) * 0.9)] <= 46


def test_unlisted_agencies_use_the_defaults() -> None:
    profiles = load_profiles()
    assert profiles.of("no-such-agency") == profiles.defaults
    assert profiles.of("linkage").acknowledge.median < profiles.defaults.acknowledge.median


def test_profiles_from_a_file_override_defaults_per_key(tmp_path: Path) -> None:
    path = tmp_path / "agencies.yaml"
    path.write_text(
        "defaults:\n"
        "  acknowledge_minutes: {median: 5, p90: 10}\n"
        "  complete_minutes: {median: 20, p90: 60}\n"
        "  no_answer: 0.0\n"
        "agencies:\n"
        "  grid: {no_answer: 1}\n",
        encoding="utf-8",
    )
    profiles = load_profiles(path)
    assert profiles.of("grid").no_answer == 1.0
    assert profiles.of("grid").acknowledge == Delay(5, 10)
    assert all(profiles.decide(1, t, "grid").acknowledge_after is None for t in TASKS)
    assert all(profiles.decide(1, t, "media").acknowledge_after for t in TASKS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("defaults: {}\n", "missing required key 'acknowledge_minutes'"),
        (
            "defaults:\n  acknowledge_minutes: {median: 10, p90: 5}\n"
            "  complete_minutes: {median: 1, p90: 2}\n  no_answer: 0\n",
            "need 0 < median <= p90",
        ),
        (
            "defaults:\n  acknowledge_minutes: {median: 1, p90: 5}\n"
            "  complete_minutes: {median: 1, p90: 2}\n  no_answer: 1.5\n",
            "not a probability",
        ),
        (
            "defaults:\n  acknowledge_minutes: {median: soon, p90: 5}\n"
            "  complete_minutes: {median: 1, p90: 2}\n  no_answer: 0\n",
            "expected a number",
        ),
    ],
)
def test_bad_profiles_are_refused_with_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "agencies.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfilesError, match=expected):
        load_profiles(path)
