"""Area names and codes → canonical area ids, by the plan's catalogue. Pure, no I/O.

Issuers name areas in many ways: ``浦东新区``, ``浦东``, ``Pudong New Area``, ``上海市浦东新区``,
``Jìng'ān``, ``黄浦江`` (the river's tide warnings), ``中心城区``, GB/T 2260 codes such as
``310115``, or lists such as ``浦东新区、奉贤区、金山区``. Every name comes from the plan's
catalogue (the city, ``citywide``, districts with their aliases and codes, groups), and every
caller matches names here: alert intake, ``tidegate plan explain``, drills and the plan loader.
A name therefore means the same thing everywhere.

* :func:`resolve_areas` reads one name: the city's names and the citywide aliases (whole names
  only: 上海市区 is not 上海市), a district's names with or without 区 / District..., a group.
* :func:`read_areas` reads what an issuer wrote in one field: a name, a list of names
  (``浦东新区、奉贤区``, "Pudong and Jinshan"), names qualified by the city's own name
  ("Pudong, Shanghai", ``上海市浦东新区``), or GB/T 2260 codes. An unknown part raises
  :class:`~plans.errors.UnknownNameError` naming it.
* :func:`resolve_geocode` reads a code; :func:`canonical_areas` orders area ids as the plan
  does, and ``citywide`` absorbs every district.

Hazard and colour words are in :mod:`plans.terms`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from plans.errors import UnknownNameError
from plans.model import CITYWIDE, City, District, Plan

_DROP = re.compile(r"[\s'’‘`´\-_.·•,，()（）\[\]]+")
_SUFFIXES = ("newdistrict", "newarea", "district", "county", "qu", "新区", "区", "县")
_SEPARATORS = re.compile(r"[、，,；;/|\n]|以及|及|和|与|\band\b|&|\+", re.IGNORECASE)
_CODE_LENGTHS = (6, 9, 12)
"""GB/T 2260 division codes (6 digits) and the street and town codes below them (9, 12)."""


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


def city_names_of(city: City | None) -> tuple[str, ...]:
    """The city's own names (``上海市``, ``Shanghai``, ``上海``...), without blanks."""
    return tuple(n for n in ((city.zh, city.en, *city.aliases) if city else ()) if n)


def _names(district: District) -> Iterable[str]:
    yield district.id
    yield district.zh
    yield district.en
    yield from district.aliases


@dataclass(frozen=True)
class Gazetteer:
    """Every name and code in a plan's catalogue, folded once, for fast look-ups of many names."""

    city: frozenset[str]
    """Folded names of the whole city (whole-name matches only)."""
    districts: dict[str, str]
    """Folded name or stem -> district id (earlier districts win a shared stem)."""
    groups: dict[str, tuple[str, ...]]
    """Folded group id, name or stem -> the group's district ids."""
    qualifiers: tuple[str, ...]
    """Folded city names that only qualify district names beside them, longest first."""
    codes: dict[str, str]
    """Six-digit GB/T 2260 code -> area id."""
    order: dict[str, int]
    """Area id -> position: ``citywide`` first, then districts in catalogue order."""
    city_name: str
    """How messages name the city (``Shanghai``)."""

    @classmethod
    def of(cls, plan: Plan) -> Gazetteer:
        """Index ``plan``'s catalogue: the city, ``citywide``, its districts and its groups."""
        own = city_names_of(plan.city)
        districts: dict[str, str] = {}
        for district in plan.districts:
            for known in _names(district):
                for stem in name_stems(known):
                    districts.setdefault(stem, district.id)
        groups: dict[str, tuple[str, ...]] = {}
        for group in plan.groups:
            for known in (group.id, group.zh, group.en):
                for stem in name_stems(known):
                    groups.setdefault(stem, group.districts)
        areas = (plan.citywide, *plan.districts)
        qualifiers = {normalise_name(n) for n in own}
        return cls(
            city=frozenset(normalise_name(n) for n in (*_names(plan.citywide), *own)),
            districts=districts,
            groups=groups,
            qualifiers=tuple(sorted(qualifiers, key=lambda k: (-len(k), k))),
            codes={code: area.id for area in areas for code in area.codes},
            order={area.id: i for i, area in enumerate(areas)},
            city_name=plan.city.en,
        )

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

    def read(self, text: str) -> tuple[str, ...]:
        """Area ids of one field's text: a name, a code, or a list of them (see the module doc).

        Raises:
            UnknownNameError: The text is empty, or a part of it is not a known name or code.
        """
        name = text.strip()
        if not name:
            raise UnknownNameError("empty area name")
        if name.isascii() and name.isdigit():
            area = self.geocode(name)
            if area is None:
                raise UnknownNameError(f"{name!r} is not a {self.city_name} area code")
            return (area,)
        whole = self._qualified(name)
        if whole:
            return whole
        parts = [p for p in (s.strip() for s in _SEPARATORS.split(name)) if p]
        if len(parts) < 2:
            raise UnknownNameError(f"unknown area {name!r}")
        found: list[str] = []
        for part in parts:
            areas = self._qualified(part)
            if not areas:
                raise UnknownNameError(f"unknown area {part!r} in {name!r}")
            # "Pudong, Fengxian, Shanghai": the city's name beside districts is a qualifier.
            if normalise_name(part) in self.qualifiers:
                continue
            found.extend(areas)
        return tuple(found) or (CITYWIDE,)

    def geocode(self, value: str) -> str | None:
        """Map a GB/T 2260 code to an area id, or ``None`` for codes of other schemes.

        Raises:
            UnknownNameError: The value looks like a code of the plan's province (the first two
                digits of its codes) but is not one the plan knows.
        """
        code = value.strip()
        if not (code.isascii() and code.isdigit() and len(code) in _CODE_LENGTHS):
            return None
        if not any(code[:2] == known[:2] for known in self.codes):
            return None
        base, rest = code[:6], code[6:]
        area = self.codes.get(base)
        if area is None or (area == CITYWIDE and rest.strip("0")):
            raise UnknownNameError(f"unknown {self.city_name} area code {code!r}")
        return area

    def canonical(self, area_ids: Iterable[str]) -> tuple[str, ...]:
        """Order and de-duplicate area ids; ``citywide`` absorbs every district."""
        ids = list(dict.fromkeys(area_ids))
        if CITYWIDE in ids:
            return (CITYWIDE,)
        return tuple(sorted(ids, key=self.order.__getitem__))

    def _qualified(self, name: str) -> tuple[str, ...]:
        """Resolve one name, tolerating the city's name before or after it."""
        found = self.lookup(name)
        if found:
            return found
        key = normalise_name(name)
        for city in self.qualifiers:
            if key.startswith(city) and (found := self.lookup(key[len(city) :])):
                return found
            if key.endswith(city) and (found := self.lookup(key[: -len(city)])):
                return found
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


def resolve_areas(name: str, plan: Plan) -> tuple[str, ...]:
    """Map one name to area ids using a plan's catalogue.

    Matching ignores case, spaces, punctuation and pinyin tone marks, and a trailing '区',
    '新区', '县', 'District', 'New Area', 'County' or 'Qu', so "浦东新区", "浦东", "Pudong New
    Area", "pudong" and "Jìng'ān" all resolve. City names match only whole: "上海市区" (the
    urban area) is not "上海市".

    Args:
        name: A name of the city, a citywide alias, a district name or alias, or a group's id
            or name such as ``coastal`` or ``中心城区``.
        plan: The plan whose catalogue applies.

    Returns:
        ``("citywide",)``, one district id, a group's district ids in catalogue order, or
        ``()`` when the name is not known.
    """
    return gazetteer(plan).lookup(name)


def read_areas(text: str, plan: Plan) -> tuple[str, ...]:
    """Area ids named by one field as an issuer wrote it (names, lists, qualifiers, codes).

    Args:
        text: e.g. ``浦东新区``, ``浦东新区、奉贤区``, ``Pudong, Shanghai``, ``310115``.
        plan: The plan whose catalogue applies.

    Returns:
        The area ids in the order named, never empty (not yet canonical: see
        :func:`canonical_areas`).

    Raises:
        UnknownNameError: The text is empty, or names an area or code the plan does not know.
    """
    return gazetteer(plan).read(text)


def resolve_geocode(value: str, plan: Plan) -> str | None:
    """Map a GB/T 2260 code to an area id, or ``None`` if it is not a code of the plan's province.

    Six-digit codes name the city or a district. Nine- and twelve-digit codes (streets, towns,
    neighbourhood committees) map to their district: tidegate responds per district, so a
    street-level warning triggers its whole district's plan (coarser, never narrower).

    Args:
        value: The code, e.g. ``310115`` or ``310104010000``.
        plan: The plan whose codes apply.

    Returns:
        The area id, or ``None`` when the value is not a code of the plan's province.

    Raises:
        UnknownNameError: The value looks like a code of the province but is unknown.
    """
    return gazetteer(plan).geocode(value)


def canonical_areas(area_ids: Iterable[str], plan: Plan) -> tuple[str, ...]:
    """``("citywide",)`` if ``citywide`` is among the ids, else the districts in plan order."""
    return gazetteer(plan).canonical(area_ids)
