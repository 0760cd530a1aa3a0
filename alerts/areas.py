"""Area names and codes → canonical area ids (``citywide`` or district ids of the plan).

Issuers name areas in many ways: ``浦东新区``, ``浦东``, ``Pudong New Area``, ``上海市浦东新区``,
``Jìng'ān``, ``黄浦江`` (the river's tide warnings), ``中心城区``, CAP geocodes such as
``310115``, or lists such as ``浦东新区、奉贤区、金山区``. The plan engine must see one spelling,
so every channel maps names here, once, at intake.

The names come from the plan's catalogue and are matched by :mod:`plans.catalogue`, the same
matcher the plan linter and ``tidegate plan explain`` use; there is no second table of names.
This module adds what only intake needs (rules also in ``docs/alerts.md``):

* one string may list several areas (``浦东新区、奉贤区``, "Pudong and Jinshan");
* the city's own name *next to district names* ("Pudong, Shanghai", "上海市浦东新区") is an
  address qualifier, not citywide (:data:`CITY_NAMES`);
* GB/T 2260 codes (``310115``, and 9- or 12-digit street codes) are accepted wherever a name is
  (:data:`GB_CODES`: codes are a national standard, not plan data);
* if ``citywide`` is among the areas the result is just ``("citywide",)``; otherwise district
  ids come in catalogue order, so equal sets give equal tuples;
* an unknown name is rejected with :class:`~alerts.errors.AlertRejected` naming it.

Every function takes the ``plan`` whose catalogue applies; ``None`` means the bundled plan
(offline tools and tests). Intake edges always pass the plan they run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from alerts.errors import AlertRejected
from plans.catalogue import Gazetteer, gazetteer, normalise_name
from plans.loader import load_plan
from plans.model import CITYWIDE, Plan

GB_CODES: dict[str, str] = {
    "310000": CITYWIDE,
    "310100": CITYWIDE,
    "310101": "huangpu",
    "310104": "xuhui",
    "310105": "changning",
    "310106": "jingan",
    "310107": "putuo",
    "310108": "jingan",
    "310109": "hongkou",
    "310110": "yangpu",
    "310112": "minhang",
    "310113": "baoshan",
    "310114": "jiading",
    "310115": "pudong",
    "310116": "jinshan",
    "310117": "songjiang",
    "310118": "qingpu",
    "310120": "fengxian",
    "310151": "chongming",
}
"""GB/T 2260 codes of Shanghai (310000, 310100) and its districts → area ids.

310108 is the former 闸北区, merged into 静安 in 2015 and still seen in older feeds. A code whose
area is not in the plan is unknown.
"""

CITY_NAMES = ("上海", "上海市", "Shanghai", "Shanghai City", "Shanghai Municipality")
"""The city's own names: citywide alone, an address qualifier beside district names."""

_SEPARATORS = re.compile(r"[、，,；;/|\n]|以及|及|和|与|\band\b|&|\+", re.IGNORECASE)


class AreaIndex:
    """A plan's area names, qualifiers, codes and order, for resolving one alert's areas."""

    def __init__(self, plan: Plan) -> None:
        self._names: Gazetteer = gazetteer(plan)
        ids = (CITYWIDE, *(d.id for d in plan.districts))
        self._order = {area: i for i, area in enumerate(ids)}
        self._codes = {code: area for code, area in GB_CODES.items() if area in self._order}
        city = {normalise_name(n) for n in CITY_NAMES if self._names.lookup(n) == (CITYWIDE,)}
        # Longest first, so "上海市" is stripped before "上海".
        self._city = tuple(sorted(city, key=lambda k: (-len(k), k)))

    def resolve(self, names: Iterable[str], *, field: str = "areas") -> tuple[str, ...]:
        """Map area names (each may list several) to canonical area ids; see the module doc.

        Raises:
            AlertRejected: A name is not a known area, or there are no names at all.
        """
        found: list[str] = []
        for name in names:
            found.extend(self._text(name, field))
        if not found:
            raise AlertRejected("no areas given", field=field)
        return self.canonical(found)

    def geocode(self, value: str, *, field: str = "geocode") -> str | None:
        """Map a GB/T 2260 code to an area id, or ``None`` for codes of other schemes.

        Raises:
            AlertRejected: The value looks like a Shanghai code (starts with ``31``) but is
                not one this plan knows.
        """
        code = value.strip()
        if not (code.isascii() and code.isdigit() and len(code) in (6, 9, 12)):
            return None
        if not code.startswith("31"):
            return None
        base, rest = code[:6], code[6:]
        area = self._codes.get(base)
        if area is None or (area == CITYWIDE and rest.strip("0")):
            raise AlertRejected(f"unknown Shanghai area code {code!r}", field=field)
        return area

    def canonical(self, area_ids: Iterable[str]) -> tuple[str, ...]:
        """Order and de-duplicate area ids; ``citywide`` absorbs every district."""
        ids = list(dict.fromkeys(area_ids))
        if CITYWIDE in ids:
            return (CITYWIDE,)
        return tuple(sorted(ids, key=self._order.__getitem__))

    def _text(self, name: str, field: str) -> list[str]:
        """Resolve a name that may list several areas ("浦东新区、奉贤区", "Pudong and Jinshan")."""
        if not name.strip():
            raise AlertRejected("empty area name", field=field)
        if name.strip().isascii() and name.strip().isdigit():
            area = self.geocode(name, field=field)
            if area is None:
                raise AlertRejected(f"{name.strip()!r} is not a Shanghai area code", field=field)
            return [area]
        whole = self._one(name)
        if whole:
            return list(whole)
        parts = [p for p in (s.strip() for s in _SEPARATORS.split(name)) if p]
        if len(parts) < 2:
            raise AlertRejected(f"unknown area {name.strip()!r}", field=field)
        found: list[str] = []
        for part in parts:
            areas = self._one(part)
            if not areas:
                raise AlertRejected(f"unknown area {part!r} in {name.strip()!r}", field=field)
            # "Pudong, Fengxian, Shanghai": the city's name beside districts is a qualifier.
            if normalise_name(part) in self._city:
                continue
            found.extend(areas)
        return found or [CITYWIDE]

    def _one(self, name: str) -> tuple[str, ...]:
        """Resolve one name, tolerating the city's name before or after it."""
        found = self._names.lookup(name)
        if found:
            return found
        key = normalise_name(name)
        for city in self._city:
            if key.startswith(city) and (found := self._names.lookup(key[len(city) :])):
                return found
            if key.endswith(city) and (found := self._names.lookup(key[: -len(city)])):
                return found
        return ()


@functools.cache
def _bundled() -> Plan:
    return load_plan()


_INDEXES: dict[int, tuple[Plan, AreaIndex]] = {}
_INDEXES_KEPT = 8


def area_index(plan: Plan | None = None) -> AreaIndex:
    """The :class:`AreaIndex` of ``plan`` (``None``: the bundled plan), built once per plan."""
    plan = plan if plan is not None else _bundled()
    cached = _INDEXES.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    index = AreaIndex(plan)
    if len(_INDEXES) >= _INDEXES_KEPT:
        _INDEXES.pop(next(iter(_INDEXES)))
    # The plan is kept alongside, so its id cannot be reused while the entry exists.
    _INDEXES[id(plan)] = (plan, index)
    return index


def resolve_areas(
    names: Iterable[str], *, field: str = "areas", plan: Plan | None = None
) -> tuple[str, ...]:
    """Map area names (Chinese, English, pinyin, area ids, group names or codes) to area ids.

    Args:
        names: Area names as the issuer wrote them; each may itself list several areas.
        field: Field name to report in a rejection (``areas`` for JSON, ``areaDesc`` for CAP).
        plan: The plan whose catalogue applies (``None``: the bundled plan).

    Returns:
        ``("citywide",)`` or district ids in catalogue order, never empty.

    Raises:
        AlertRejected: A name is not a known area, or there are no names at all.
    """
    return area_index(plan).resolve(names, field=field)


def resolve_geocode(value: str, *, field: str = "geocode", plan: Plan | None = None) -> str | None:
    """Map a GB/T 2260 code to an area id, or ``None`` if it is not a Shanghai code.

    Six-digit codes name the city or a district. Nine- and twelve-digit codes (streets, towns,
    neighbourhood committees) map to their district: tidegate responds per district, so a
    street-level warning triggers its whole district's plan (coarser, never narrower).

    Args:
        value: The geocode value, e.g. ``310115`` or ``310104010000``.
        field: Field name to report in a rejection.
        plan: The plan whose areas apply (``None``: the bundled plan).

    Returns:
        The area id, or ``None`` when the value is not a code of Shanghai (another scheme).

    Raises:
        AlertRejected: The value looks like a Shanghai code (starts with ``31``) but is unknown.
    """
    return area_index(plan).geocode(value, field=field)
