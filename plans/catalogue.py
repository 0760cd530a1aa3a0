"""Pure helpers that map area, hazard and colour names to canonical ids.

``resolve_area`` is what alert intake uses to turn an issuer's area name ("浦东新区",
"Pudong New Area", "Jing'an", "上海市") into a canonical area id.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from plans.model import CITYWIDE, District, Hazard, Level, Plan

DEFAULT_CITYWIDE_ALIASES: tuple[str, ...] = (
    "citywide",
    "city-wide",
    "Shanghai",
    "Shanghai Municipality",
    "上海",
    "上海市",
    "全市",
    "本市",
)
"""Names that always mean the whole city; a plan may add more (``Plan.citywide.aliases``)."""

_DROP = re.compile(r"[\s'’‘`\-_.·,，()（）]+")
_SUFFIXES = ("newarea", "district", "qu", "新区", "区")


def normalise_name(name: str) -> str:
    """Fold a place name for matching: NFKC, case-folded, without spaces and punctuation.

    Args:
        name: Any spelling, e.g. ``"Jing'an District"``.

    Returns:
        The folded form, e.g. ``"jingandistrict"``.
    """
    return _DROP.sub("", unicodedata.normalize("NFKC", name)).casefold()


def _stems(name: str) -> list[str]:
    """Return the folded name and the same without a district suffix ('区', 'District')."""
    folded = normalise_name(name)
    stems = [folded]
    for suffix in _SUFFIXES:
        if folded.endswith(suffix) and len(folded) > len(suffix) + 1:
            stems.append(folded[: -len(suffix)])
            break
    return stems


def _names(district: District) -> Iterable[str]:
    yield district.id
    yield district.zh
    yield district.en
    yield from district.aliases


def resolve_area(
    name: str,
    districts: Sequence[District],
    citywide_aliases: Iterable[str] = DEFAULT_CITYWIDE_ALIASES,
) -> str | None:
    """Map an area name in Chinese or English to a canonical area id.

    Matching ignores case, spaces and punctuation, and a trailing '区', '新区', 'District' or
    'New Area', so "浦东新区", "浦东", "Pudong New Area", "pudong" and "Jing'an" all resolve.

    Args:
        name: The name as an issuer wrote it.
        districts: The plan's districts (``Plan.districts``).
        citywide_aliases: Names meaning the whole city; pass ``plan.citywide.aliases`` plus
            ``DEFAULT_CITYWIDE_ALIASES`` to use the plan's own list.

    Returns:
        ``"citywide"``, a district id, or ``None`` when the name is not known.
    """
    wanted = set(_stems(name))
    for alias in citywide_aliases:
        if wanted & set(_stems(alias)):
            return CITYWIDE
    for district in districts:
        for known in _names(district):
            if wanted & set(_stems(known)):
                return district.id
    return None


def resolve_areas(name: str, plan: Plan) -> tuple[str, ...]:
    """Map a name to area ids using a plan's catalogue, including its groups of districts.

    Args:
        name: A district or city name (see ``resolve_area``), or a group id or name such as
            ``coastal`` or ``中心城区``.

    Returns:
        ``("citywide",)``, one district id, a group's district ids in catalogue order, or
        ``()`` when the name is not known.
    """
    aliases = (*DEFAULT_CITYWIDE_ALIASES, *plan.citywide.aliases)
    area = resolve_area(name, plan.districts, aliases)
    if area is not None:
        return (area,)
    wanted = set(_stems(name))
    for group in plan.groups:
        if any(wanted & set(_stems(known)) for known in (group.id, group.zh, group.en)):
            return group.districts
    return ()


_HAZARD_NAMES: dict[str, Hazard] = {
    "wind": Hazard.WIND,
    "typhoon": Hazard.WIND,
    "gale": Hazard.WIND,
    "风": Hazard.WIND,
    "台风": Hazard.WIND,
    "大风": Hazard.WIND,
    "rainstorm": Hazard.RAINSTORM,
    "rain": Hazard.RAINSTORM,
    "暴": Hazard.RAINSTORM,
    "暴雨": Hazard.RAINSTORM,
    "tide": Hazard.TIDE,
    "hightide": Hazard.TIDE,
    "潮": Hazard.TIDE,
    "高潮": Hazard.TIDE,
    "高潮位": Hazard.TIDE,
    "flood": Hazard.FLOOD,
    "洪": Hazard.FLOOD,
    "洪水": Hazard.FLOOD,
}

_LEVEL_NAMES: dict[str, Level] = {
    "blue": Level.BLUE,
    "蓝": Level.BLUE,
    "蓝色": Level.BLUE,
    "yellow": Level.YELLOW,
    "黄": Level.YELLOW,
    "黄色": Level.YELLOW,
    "orange": Level.ORANGE,
    "橙": Level.ORANGE,
    "橙色": Level.ORANGE,
    "red": Level.RED,
    "红": Level.RED,
    "红色": Level.RED,
}


def parse_hazard(name: str) -> Hazard | None:
    """Map a hazard name to a ``Hazard``; typhoon and gale (台风, 大风) both give ``wind``.

    Args:
        name: e.g. ``typhoon``, ``gale``, ``rainstorm``, ``暴雨``, ``tide``, ``flood``.

    Returns:
        The hazard, or ``None`` when the name is not known.
    """
    return _HAZARD_NAMES.get(normalise_name(name))


def parse_level(name: str) -> Level | None:
    """Map a warning colour in English or Chinese (``orange``, ``橙色``) to a ``Level``.

    Args:
        name: The colour name.

    Returns:
        The level, or ``None`` when the name is not known.
    """
    return _LEVEL_NAMES.get(normalise_name(name))
