"""Domain types shared by the plan loader, the plan logic, alert intake and the workflows.

Everything here is a frozen dataclass or a string enum built from tuples and plain values, so
that it round-trips through Temporal's default JSON data converter unchanged and can be passed
as workflow input (a running response pins the plan it started with).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CITYWIDE = "citywide"
"""Area id of the whole city; every other area id is a district id such as ``pudong``."""


class Hazard(StrEnum):
    """Hazards tidegate acts on. Typhoon and gale warnings are both ``wind``."""

    WIND = "wind"
    RAINSTORM = "rainstorm"
    TIDE = "tide"
    FLOOD = "flood"


class Level(StrEnum):
    """Warning colour: blue (IV) is the lowest, red (I) the highest."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        """1 for blue up to 4 for red, so levels compare by severity."""
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.BLUE: 1, Level.YELLOW: 2, Level.ORANGE: 3, Level.RED: 4}


class ResponseLevel(StrEnum):
    """Emergency response level (应急响应). IV is the lowest, I the highest."""

    IV = "IV"
    III = "III"
    II = "II"
    I = "I"  # noqa: E741 - the official name of the highest response level

    @property
    def rank(self) -> int:
        """1 for IV up to 4 for I, so response levels compare by severity."""
        return _RESPONSE_RANK[self]


_RESPONSE_RANK = {
    ResponseLevel.IV: 1,
    ResponseLevel.III: 2,
    ResponseLevel.II: 3,
    ResponseLevel.I: 4,
}


@dataclass(frozen=True)
class ActiveWarning:
    """A warning in force, reduced to what the plan needs to decide the response.

    ``areas`` holds canonical area ids (``citywide`` or district ids), already mapped from
    whatever names the issuer used; ``alerts/`` does that mapping.
    """

    hazard: Hazard
    level: Level
    areas: tuple[str, ...]
