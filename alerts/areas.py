"""Area names and codes → canonical area ids (``citywide`` or one of the 16 district ids).

Issuers name areas in many ways: ``浦东新区``, ``浦东``, ``Pudong New Area``, ``上海市浦东新区``,
``Jìng'ān``, CAP geocodes such as ``310115``, or lists such as ``浦东新区、奉贤区、金山区``.
The plan engine must see one spelling, so every channel maps names here, once, at intake.

Rules (also in ``docs/alerts.md``):

* GB/T 2260 codes (``310115``) are accepted wherever a name is.
* Matching ignores case, spaces, punctuation and pinyin tone marks, and accepts the names with
  or without their suffix (区 / 新区 / 县 / District / New Area).
* 上海, 上海市, Shanghai, 本市, 全市, 全上海 and ``citywide`` mean the whole city. A bare city name
  *next to district names* ("Pudong, Shanghai", "上海市浦东新区") is read as an address qualifier,
  not as citywide.
* Former district names map to the district that absorbed them: 卢湾 → Huangpu, 闸北 → Jing'an,
  南汇 → Pudong, 崇明县 → Chongming.
* If ``citywide`` is among the areas, the result is just ``("citywide",)``; otherwise district
  ids come in the fixed order of :data:`DISTRICTS`, so equal sets give equal tuples.
* An unknown name is rejected with :class:`~alerts.errors.AlertRejected` naming it.

Once ``plans/`` exposes its own district table this module may delegate to it; callers only use
:func:`resolve_areas` and :func:`resolve_geocode`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from alerts.errors import AlertRejected
from plans.model import CITYWIDE


@dataclass(frozen=True)
class District:
    """One of Shanghai's 16 districts with the names and code issuers use for it."""

    id: str
    """Canonical area id used throughout tidegate."""
    code: str
    """GB/T 2260 administrative division code."""
    names: tuple[str, ...]
    """Base names (without 区 / District suffix), Chinese first; any spelling normalises."""


DISTRICTS: tuple[District, ...] = (
    District("huangpu", "310101", ("黄浦", "Huangpu", "卢湾", "Luwan")),
    District("xuhui", "310104", ("徐汇", "Xuhui")),
    District("changning", "310105", ("长宁", "Changning")),
    District("jingan", "310106", ("静安", "Jing'an", "闸北", "Zhabei")),
    District("putuo", "310107", ("普陀", "Putuo")),
    District("hongkou", "310109", ("虹口", "Hongkou")),
    District("yangpu", "310110", ("杨浦", "Yangpu")),
    District("minhang", "310112", ("闵行", "Minhang")),
    District("baoshan", "310113", ("宝山", "Baoshan")),
    District("jiading", "310114", ("嘉定", "Jiading")),
    District("pudong", "310115", ("浦东", "Pudong", "南汇", "Nanhui")),
    District("jinshan", "310116", ("金山", "Jinshan")),
    District("songjiang", "310117", ("松江", "Songjiang")),
    District("qingpu", "310118", ("青浦", "Qingpu")),
    District("fengxian", "310120", ("奉贤", "Fengxian")),
    District("chongming", "310151", ("崇明", "Chongming")),
)
"""The 16 districts in official order (domain.md §7.1); codes per GB/T 2260."""

CITY_CODES = ("310000", "310100")
"""GB/T 2260 codes of Shanghai itself (the municipality and its 市辖区 level)."""

_LEGACY_CODES = {"310108": "jingan"}
"""Codes of merged districts still seen in older feeds (闸北 → 静安, 2015)."""

_CITY_NAMES = ("上海", "上海市", "shanghai", "shanghaicity", "shanghaimunicipality")
_CITYWIDE_NAMES = (*_CITY_NAMES, "citywide", "全市", "本市", "全上海", "全上海市", "wholecity")
_SUFFIXES = ("newdistrict", "newarea", "district", "county", "新区", "区", "县")
_SEPARATORS = re.compile(r"[、，,；;/|\n]|以及|及|和|与|\band\b|&|\+", re.IGNORECASE)
_DROP = re.compile(r"[\s'’‘`´\-_.·•,，()（）\[\]]+")


def _key(name: str) -> str:
    """Normalise a name for lookup: NFKC, no tone marks, no spaces or punctuation, casefolded."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _DROP.sub("", unicodedata.normalize("NFKC", bare)).casefold()


_BY_NAME: dict[str, str] = {
    **{_key(name): CITYWIDE for name in _CITYWIDE_NAMES},
    **{_key(name): d.id for d in DISTRICTS for name in d.names},
}
_BY_CODE: dict[str, str] = {
    **{d.code: d.id for d in DISTRICTS},
    **_LEGACY_CODES,
    **{code: CITYWIDE for code in CITY_CODES},
}
_ORDER = {d.id: i for i, d in enumerate(DISTRICTS)}
# Longest first so "上海市" is stripped before "上海"; the name tuple keeps the order deterministic.
_CITY_KEYS = tuple(sorted(dict.fromkeys(_key(n) for n in _CITY_NAMES), key=lambda k: (-len(k), k)))


def _lookup(key: str) -> str | None:
    if key in _BY_NAME:
        return _BY_NAME[key]
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and key[: -len(suffix)] in _BY_NAME:
            found = _BY_NAME[key[: -len(suffix)]]
            return found if found != CITYWIDE else None
    return None


def _resolve_one(name: str) -> str | None:
    """Resolve one name, tolerating a city qualifier before or after it."""
    key = _key(name)
    if not key:
        return None
    found = _lookup(key)
    if found is not None:
        return found
    for city in _CITY_KEYS:
        if key.startswith(city) and (found := _lookup(key[len(city) :])) is not None:
            return found
        if key.endswith(city) and (found := _lookup(key[: -len(city)])) is not None:
            return found
    return None


def _resolve_text(name: str, field: str) -> list[str]:
    """Resolve a name that may list several areas ("浦东新区、奉贤区" or "Pudong and Jinshan")."""
    if not name.strip():
        raise AlertRejected("empty area name", field=field)
    if name.strip().isascii() and name.strip().isdigit():
        code = resolve_geocode(name, field=field)
        if code is None:
            raise AlertRejected(f"{name.strip()!r} is not a Shanghai area code", field=field)
        return [code]
    whole = _resolve_one(name)
    if whole is not None:
        return [whole]
    parts = [p for p in (s.strip() for s in _SEPARATORS.split(name)) if p]
    if len(parts) < 2:
        raise AlertRejected(f"unknown area {name.strip()!r}", field=field)
    found: list[str] = []
    for part in parts:
        area = _resolve_one(part)
        if area is None:
            raise AlertRejected(f"unknown area {part!r} in {name.strip()!r}", field=field)
        # "Pudong, Fengxian, Shanghai": a bare city name beside districts is a qualifier.
        if area == CITYWIDE and _key(part) in _CITY_KEYS:
            continue
        found.append(area)
    return found or [CITYWIDE]


def canonical_areas(area_ids: Iterable[str]) -> tuple[str, ...]:
    """Order and de-duplicate area ids; ``citywide`` absorbs every district."""
    ids = list(dict.fromkeys(area_ids))
    if CITYWIDE in ids:
        return (CITYWIDE,)
    return tuple(sorted(ids, key=_ORDER.__getitem__))


def resolve_areas(names: Iterable[str], *, field: str = "areas") -> tuple[str, ...]:
    """Map area names (Chinese, English, pinyin or area ids) to canonical area ids.

    Args:
        names: Area names as the issuer wrote them; each may itself list several areas.
        field: Field name to report in a rejection (``areas`` for JSON, ``areaDesc`` for CAP).

    Returns:
        ``("citywide",)`` or district ids in :data:`DISTRICTS` order, never empty.

    Raises:
        AlertRejected: A name is not a known area, or there are no names at all.
    """
    found: list[str] = []
    for name in names:
        found.extend(_resolve_text(name, field))
    if not found:
        raise AlertRejected("no areas given", field=field)
    return canonical_areas(found)


def resolve_geocode(value: str, *, field: str = "geocode") -> str | None:
    """Map a GB/T 2260 code to an area id, or ``None`` if it is not a Shanghai code.

    Six-digit codes name the city or a district. Nine- and twelve-digit codes (streets, towns,
    neighbourhood committees) map to their district: tidegate responds per district, so a
    street-level warning triggers its whole district's plan (coarser, never narrower).

    Args:
        value: The geocode value, e.g. ``310115`` or ``310104010000``.
        field: Field name to report in a rejection.

    Returns:
        The area id, or ``None`` when the value is not a code of Shanghai (another scheme).

    Raises:
        AlertRejected: The value looks like a Shanghai code (starts with ``31``) but is unknown.
    """
    code = value.strip()
    if not (code.isascii() and code.isdigit() and len(code) in (6, 9, 12)):
        return None
    if not code.startswith("31"):
        return None
    base, rest = code[:6], code[6:]
    area = _BY_CODE.get(base)
    if area is None or (area == CITYWIDE and rest.strip("0")):
        raise AlertRejected(f"unknown Shanghai area code {code!r}", field=field)
    return area
