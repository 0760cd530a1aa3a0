"""Hazard and level words, and reading them out of signal names, as intake reads them.

The words are the plan's (``catalogue.yaml``); ``alerts.vocabulary`` refuses what they do not
name, with the field at fault.
"""

from __future__ import annotations

import pytest

from alerts import vocabulary
from alerts.errors import AlertRejected
from plans.loader import load_plan
from plans.model import Hazard, Level

PLAN = load_plan()

W, R, T, F = Hazard.WIND, Hazard.RAINSTORM, Hazard.TIDE, Hazard.FLOOD


@pytest.mark.parametrize(
    ("name", "hazard", "level"),
    [
        ("暴雨橙色预警", R, Level.ORANGE),
        ("暴雨蓝色预警信号", R, Level.BLUE),
        ("台风蓝色预警", W, Level.BLUE),
        ("台风红色预警信号", W, Level.RED),
        ("大风黄色预警", W, Level.YELLOW),
        ("雷雨大风蓝色预警", W, Level.BLUE),
        ("黄浦江高潮位黄色预警", T, Level.YELLOW),
        ("黄浦江高潮位蓝色预警", T, Level.BLUE),
        ("风暴潮橙色预警", T, Level.ORANGE),
        ("洪水红色预警", F, Level.RED),
        ("Rainstorm Orange Warning", R, Level.ORANGE),
        ("Typhoon Blue Warning Signal", W, Level.BLUE),
        ("Red Rainstorm Signal", R, Level.RED),
        ("Gale Yellow Warning", W, Level.YELLOW),
        ("High Tide Yellow Warning", T, Level.YELLOW),
        ("Storm Surge Orange Warning", T, Level.ORANGE),
        ("Heavy Rain Warning", R, None),
        ("Flood Warning", F, None),
        ("TYPHOON  ORANGE", W, Level.ORANGE),
        ("寒潮蓝色预警", None, Level.BLUE),
        ("暴雪黄色预警", None, Level.YELLOW),
        ("雷电黄色预警", None, Level.YELLOW),
        ("Shared Flood Bulletin", F, None),
        ("Fog Warning", None, None),
    ],
)
def test_read_signal(name: str, hazard: Hazard | None, level: Level | None) -> None:
    assert vocabulary.signal(name, PLAN, field="event") == (hazard, level)


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("暴雨蓝色预警升级为黄色预警", "levels"),
        ("Typhoon and Rainstorm Warning", "hazards"),
        ("暴雨洪水预警", "hazards"),
        ("Orange or Red Rainstorm", "levels"),
    ],
)
def test_names_with_two_hazards_or_levels_are_rejected(name: str, what: str) -> None:
    with pytest.raises(AlertRejected, match=f"several {what}") as caught:
        vocabulary.signal(name, PLAN, field="event")
    assert caught.value.field == "event"


@pytest.mark.parametrize(
    ("term", "level"),
    [
        ("orange", Level.ORANGE),
        ("Orange", Level.ORANGE),
        ("橙色", Level.ORANGE),
        ("橙", Level.ORANGE),
        ("Ⅱ", Level.ORANGE),
        ("II级", Level.ORANGE),
        ("Ⅳ", Level.BLUE),
        ("Ⅰ", Level.RED),
        ("iii", Level.YELLOW),
        (" red ", Level.RED),
    ],
)
def test_level_terms(term: str, level: Level) -> None:
    assert vocabulary.level(term, PLAN, field="level") is level


@pytest.mark.parametrize(
    ("term", "hazard"),
    [
        ("wind", W),
        ("typhoon", W),
        ("Gale", W),
        ("台风", W),
        ("大风", W),
        ("rainstorm", R),
        ("暴雨", R),
        ("tide", T),
        ("高潮位", T),
        ("Storm Surge", T),
        ("flood", F),
        ("洪水", F),
    ],
)
def test_hazard_terms(term: str, hazard: Hazard) -> None:
    assert vocabulary.hazard(term, PLAN, field="hazard") is hazard


@pytest.mark.parametrize("term", ["purple", "", "5", "amber"])
def test_unknown_level_is_rejected(term: str) -> None:
    with pytest.raises(AlertRejected, match="unknown level"):
        vocabulary.level(term, PLAN, field="level")


@pytest.mark.parametrize("term", ["snow", "", "thunder", "暴雪"])
def test_unknown_hazard_is_rejected(term: str) -> None:
    with pytest.raises(AlertRejected, match="unknown hazard") as caught:
        vocabulary.hazard(term, PLAN, field="hazard")
    assert "wind, rainstorm, tide, flood" in caught.value.reason
