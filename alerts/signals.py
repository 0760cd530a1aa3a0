"""Signal vocabulary: hazard and level words, and reading hazard + level out of a signal name.

Warnings name their hazard and colour in prose: ``暴雨橙色预警``, ``台风蓝色预警信号``,
``黄浦江高潮位黄色预警``, ``Rainstorm Orange Warning``, ``Typhoon Blue Warning Signal``. This module
is the single place that knows those words, for the JSON fields, CAP ``event`` names and CAP
``eventCode``/``parameter`` values alike. The full table is in ``docs/alerts.md``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

from alerts.errors import AlertRejected
from plans.model import Hazard, Level

# Substrings of Chinese signal names. 风暴潮 (storm surge) counts as tide: both are coastal high
# water handled by the tide plan; tidegate has no separate surge plan. 寒潮 (cold wave) and
# 暴雪 (snowstorm) deliberately match nothing.
_ZH_HAZARDS: tuple[tuple[str, Hazard], ...] = (
    ("台风", Hazard.WIND),
    ("热带气旋", Hazard.WIND),
    ("大风", Hazard.WIND),
    ("暴雨", Hazard.RAINSTORM),
    ("风暴潮", Hazard.TIDE),
    ("高潮位", Hazard.TIDE),
    ("潮位", Hazard.TIDE),
    ("高潮", Hazard.TIDE),
    ("洪水", Hazard.FLOOD),
)
# Whole English words of signal names.
_EN_HAZARDS: dict[str, Hazard] = {
    "typhoon": Hazard.WIND,
    "cyclone": Hazard.WIND,
    "gale": Hazard.WIND,
    "wind": Hazard.WIND,
    "winds": Hazard.WIND,
    "rainstorm": Hazard.RAINSTORM,
    "rainstorms": Hazard.RAINSTORM,
    "rain": Hazard.RAINSTORM,
    "tide": Hazard.TIDE,
    "tides": Hazard.TIDE,
    "tidal": Hazard.TIDE,
    "surge": Hazard.TIDE,
    "flood": Hazard.FLOOD,
    "floods": Hazard.FLOOD,
    "flooding": Hazard.FLOOD,
}
# Colour words; the Chinese ones keep 色 so that 黄浦江 never reads as yellow.
_ZH_LEVELS: tuple[tuple[str, Level], ...] = (
    ("蓝色", Level.BLUE),
    ("黄色", Level.YELLOW),
    ("橙色", Level.ORANGE),
    ("红色", Level.RED),
)
_EN_LEVELS: dict[str, Level] = {
    "blue": Level.BLUE,
    "yellow": Level.YELLOW,
    "orange": Level.ORANGE,
    "red": Level.RED,
}

# Single-value spellings accepted in the JSON fields and in eventCode/parameter values.
_HAZARD_TERMS: dict[str, Hazard] = {
    **{h.value: h for h in Hazard},
    "typhoon": Hazard.WIND,
    "gale": Hazard.WIND,
    "stormsurge": Hazard.TIDE,
    "hightide": Hazard.TIDE,
    "heavyrain": Hazard.RAINSTORM,
    **dict(_ZH_HAZARDS),
}
_LEVEL_TERMS: dict[str, Level] = {
    **{lv.value: lv for lv in Level},
    **dict(_ZH_LEVELS),
    "蓝": Level.BLUE,
    "黄": Level.YELLOW,
    "橙": Level.ORANGE,
    "红": Level.RED,
    # Roman numerals after NFKC (Ⅳ → iv); Ⅰ is the highest level.
    "iv": Level.BLUE,
    "iii": Level.YELLOW,
    "ii": Level.ORANGE,
    "i": Level.RED,
    "iv级": Level.BLUE,
    "iii级": Level.YELLOW,
    "ii级": Level.ORANGE,
    "i级": Level.RED,
}

SEVERITY_LEVELS: dict[str, Level] = {
    "Minor": Level.BLUE,
    "Moderate": Level.YELLOW,
    "Severe": Level.ORANGE,
    "Extreme": Level.RED,
}
"""CAP ``severity`` → level, used only when no colour is given anywhere in the message."""

HAZARD_KEYS = ("hazard", "hazardtype", "warningtype", "signaltype", "预警类型", "灾种")
"""Normalised eventCode/parameter ``valueName``s whose value is a hazard word."""
LEVEL_KEYS = (
    "level",
    "warninglevel",
    "alertlevel",
    "colour",
    "color",
    "signalcolour",
    "signalcolor",
    "预警级别",
    "预警颜色",
    "级别",
    "颜色",
)
"""Normalised eventCode/parameter ``valueName``s whose value is a level word."""
SIGNAL_KEYS = ("signal", "signalname", "event", "预警信号", "信号")
"""Normalised eventCode/parameter ``valueName``s whose value is a whole signal name."""

_T = TypeVar("_T")

_PUNCT = re.compile(r"[\W_]+")
_EN_WORD = re.compile(r"[a-z]+")


def normalise(text: str) -> str:
    """Fold a term for lookup: NFKC, casefolded, no spaces or punctuation."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text).casefold())


def parse_hazard(value: str, *, field: str) -> Hazard:
    """Read a single hazard term (``wind``, ``typhoon``, ``gale``, ``台风``, ``暴雨`` ...).

    Raises:
        AlertRejected: The term is not a known hazard.
    """
    hazard = _HAZARD_TERMS.get(normalise(value))
    if hazard is None:
        allowed = ", ".join(h.value for h in Hazard)
        raise AlertRejected(f"unknown hazard {value!r}; expected one of {allowed}", field=field)
    return hazard


def parse_level(value: str, *, field: str) -> Level:
    """Read a single level term (``orange``, ``橙色``, ``橙``, ``Ⅱ``, ``II级`` ...).

    Raises:
        AlertRejected: The term is not a known level.
    """
    level = _LEVEL_TERMS.get(normalise(value))
    if level is None:
        allowed = ", ".join(lv.value for lv in Level)
        raise AlertRejected(f"unknown level {value!r}; expected one of {allowed}", field=field)
    return level


def read_signal(name: str, *, field: str) -> tuple[Hazard | None, Level | None]:
    """Find the hazard and colour a signal name mentions, if any.

    Args:
        name: A signal name such as ``暴雨橙色预警`` or ``Typhoon Blue Warning Signal``.
        field: Field name to report in a rejection.

    Returns:
        ``(hazard, level)``; either is ``None`` when the name does not mention one.

    Raises:
        AlertRejected: The name mentions two different hazards or two different colours.
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    words = _EN_WORD.findall(text)
    hazards = [h for word, h in _ZH_HAZARDS if word in text]
    hazards += [_EN_HAZARDS[w] for w in words if w in _EN_HAZARDS]
    levels = [lv for word, lv in _ZH_LEVELS if word in text]
    levels += [_EN_LEVELS[w] for w in words if w in _EN_LEVELS]
    return (
        _one(hazards, f"signal name {name!r} names several hazards", field),
        _one(levels, f"signal name {name!r} names several levels", field),
    )


def _one(found: list[_T], reason: str, field: str) -> _T | None:
    distinct = list(dict.fromkeys(found))
    if len(distinct) > 1:
        raise AlertRejected(f"{reason} ({', '.join(map(str, distinct))})", field=field)
    return distinct[0] if distinct else None
