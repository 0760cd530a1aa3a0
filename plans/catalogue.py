"""Pure helpers that map area, hazard and colour names to canonical ids.

Area names are matched here, against the plan's catalogue, for every caller: alert intake
(``alerts.areas`` adds lists, city qualifiers and GB/T 2260 codes on top), the plan linter and
``tidegate plan explain``. One matcher, one table: a name means the same thing everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plans.model import CITYWIDE, AreaGroup, District, Hazard, Level, Plan

DEFAULT_CITYWIDE_ALIASES: tuple[str, ...] = (
    "citywide",
    "city-wide",
    "whole city",
    "Shanghai",
    "Shanghai City",
    "Shanghai Municipality",
    "上海",
    "上海市",
    "全市",
    "本市",
)
"""Names that always mean the whole city; a plan may add more (``Plan.citywide.aliases``)."""

_DROP = re.compile(r"[\s'’‘`´\-_.·•,，()（）\[\]]+")
_SUFFIXES = ("newdistrict", "newarea", "district", "county", "qu", "新区", "区", "县")


def normalise_name(name: str) -> str:
    """Fold a place name for matching: NFKC, no tone marks, spaces or punctuation, case-folded.

    Args:
        name: Any spelling, e.g. ``"Jìng'ān District"``.

    Returns:
        The folded form, e.g. ``"jingandistrict"``.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _DROP.sub("", unicodedata.normalize("NFKC", bare)).casefold()


def name_stems(name: str) -> list[str]:
    """The folded name, and the same without a district suffix ('区', 'District'), if any.

    Two district names match when they share a stem.
    """
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

    Matching ignores case, spaces, punctuation and pinyin tone marks, and a trailing '区',
    '新区', '县', 'District', 'New Area', 'County' or 'Qu', so "浦东新区", "浦东", "Pudong New
    Area", "pudong" and "Jìng'ān" all resolve. City names match only whole: "上海市区" (the
    urban area) is not "上海市".

    Args:
        name: The name as an issuer wrote it.
        districts: The plan's districts (``Plan.districts``).
        citywide_aliases: Names meaning the whole city; pass ``plan.citywide.aliases`` plus
            ``DEFAULT_CITYWIDE_ALIASES`` to use the plan's own list.

    Returns:
        ``"citywide"``, a district id, or ``None`` when the name is not known.
    """
    found = Gazetteer.build(citywide_aliases, districts, ()).lookup(name)
    return found[0] if found else None


def resolve_areas(name: str, plan: Plan) -> tuple[str, ...]:
    """Map a name to area ids using a plan's catalogue, including its groups of districts.

    Args:
        name: A district or city name (see ``resolve_area``), or a group id or name such as
            ``coastal`` or ``中心城区``.
        plan: The plan whose catalogue (districts, city aliases, groups) applies.

    Returns:
        ``("citywide",)``, one district id, a group's district ids in catalogue order, or
        ``()`` when the name is not known.
    """
    return gazetteer(plan).lookup(name)


@dataclass(frozen=True)
class Gazetteer:
    """Every name in a plan's catalogue, folded once, for fast look-ups of many names.

    :func:`resolve_area` and :func:`resolve_areas` both answer through it.
    """

    city: frozenset[str]
    """Folded names of the whole city (whole-name matches only)."""
    districts: dict[str, str]
    """Folded name or stem -> district id."""
    groups: dict[str, tuple[str, ...]]
    """Folded group id, name or stem -> the group's district ids."""

    @classmethod
    def of(cls, plan: Plan) -> Gazetteer:
        """Index ``plan``'s catalogue: built-in city names, its districts and its groups."""
        city = (*DEFAULT_CITYWIDE_ALIASES, *_names(plan.citywide))
        return cls.build(city, plan.districts, plan.groups)

    @classmethod
    def build(
        cls,
        city: Iterable[str],
        districts_in_order: Iterable[District],
        area_groups: Iterable[AreaGroup],
    ) -> Gazetteer:
        """Index names of the city, of districts (earlier ones win a shared stem) and groups."""
        districts: dict[str, str] = {}
        for district in districts_in_order:
            for known in _names(district):
                for stem in name_stems(known):
                    districts.setdefault(stem, district.id)
        groups: dict[str, tuple[str, ...]] = {}
        for group in area_groups:
            for known in (group.id, group.zh, group.en):
                for stem in name_stems(known):
                    groups.setdefault(stem, group.districts)
        return cls(frozenset(normalise_name(n) for n in city), districts, groups)

    def lookup(self, name: str) -> tuple[str, ...]:
        """``("citywide",)``, one district id, a group's districts, or ``()`` if unknown."""
        folded = normalise_name(name)
        if not folded:
            return ()
        if folded in self.city:
            return (CITYWIDE,)
        stems = name_stems(name)
        for stem in stems:
            if stem in self.districts:
                return (self.districts[stem],)
        for stem in stems:
            if stem in self.groups:
                return self.groups[stem]
        return ()


_GAZETTEERS: dict[int, tuple[Plan, Gazetteer]] = {}
_GAZETTEERS_KEPT = 8


def gazetteer(plan: Plan) -> Gazetteer:
    """The :class:`Gazetteer` of ``plan``, built once per plan object."""
    cached = _GAZETTEERS.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    built = Gazetteer.of(plan)
    if len(_GAZETTEERS) >= _GAZETTEERS_KEPT:
        _GAZETTEERS.pop(next(iter(_GAZETTEERS)))
    # The plan is kept alongside, so its id cannot be reused while the entry exists.
    _GAZETTEERS[id(plan)] = (plan, built)
    return built


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
