"""A tile map of Shanghai's 16 districts, for the situation board.

Not boundary data: one equal tile per district, placed on a 5 x 5 grid by rough geography
(north up; Chongming in the estuary to the north-east, Pudong east of the Huangpu, Jinshan and
Fengxian on the Hangzhou Bay coast to the south). Equal tiles keep the small central districts
as readable as Pudong, and need no map data whose licence would have to be checked; the page
says it is a tile map. Each tile names its district and its response level in words, so colour
is never the only signal (``docs/console.md``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tile:
    """Where one district sits on the grid."""

    district: str
    """District id of the plan's catalogue."""
    col: int
    row: int


TILES: tuple[Tile, ...] = (
    Tile("jiading", 1, 0),
    Tile("baoshan", 2, 0),
    Tile("chongming", 4, 0),
    Tile("qingpu", 0, 1),
    Tile("putuo", 1, 1),
    Tile("jingan", 2, 1),
    Tile("hongkou", 3, 1),
    Tile("yangpu", 4, 1),
    Tile("changning", 1, 2),
    Tile("xuhui", 2, 2),
    Tile("huangpu", 3, 2),
    Tile("pudong", 4, 2),
    Tile("songjiang", 0, 3),
    Tile("minhang", 1, 3),
    Tile("jinshan", 1, 4),
    Tile("fengxian", 2, 4),
)
"""The 16 districts of the Shanghai plan."""

COLUMNS = 5
ROWS = 5

LEVEL_CLASSES = {"IV": "lvl-iv", "III": "lvl-iii", "II": "lvl-ii", "I": "lvl-i"}


def level_class(level: str | None) -> str:
    """CSS class of a response level: blue IV, yellow III, orange II, red I, grey none."""
    return LEVEL_CLASSES.get(level or "", "lvl-none")
