"""The plan's vocabulary as intake reads it: hazards, colours, signal names, areas and codes.

Every word comes from the plan's catalogue and is matched by :mod:`plans.terms` and
:mod:`plans.catalogue`, the same resolvers ``tidegate plan explain`` and drills use; this module
only turns a miss into an :class:`~alerts.errors.AlertRejected` naming the field, so the JSON
and CAP parsers refuse the same things with the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from alerts.errors import AlertRejected
from plans import catalogue, terms
from plans.errors import UnknownNameError
from plans.model import Hazard, Level, Plan

_T = TypeVar("_T")


def hazard(value: str, plan: Plan, *, field: str) -> Hazard:
    """Read a single hazard term (``wind``, ``typhoon``, ``台风``, ``storm surge`` ...).

    Raises:
        AlertRejected: The term is not one of the plan's hazard terms.
    """
    found = terms.parse_hazard(value, plan)
    if found is None:
        allowed = ", ".join(h.value for h in Hazard)
        raise AlertRejected(f"unknown hazard {value!r}; expected one of {allowed}", field=field)
    return found


def level(value: str, plan: Plan, *, field: str) -> Level:
    """Read a single colour term (``orange``, ``橙色``, ``橙``, ``Ⅱ``, ``II级`` ...).

    Raises:
        AlertRejected: The term is not one of the plan's colour terms.
    """
    found = terms.parse_level(value, plan)
    if found is None:
        allowed = ", ".join(lv.value for lv in Level)
        raise AlertRejected(f"unknown level {value!r}; expected one of {allowed}", field=field)
    return found


def signal(name: str, plan: Plan, *, field: str) -> tuple[Hazard | None, Level | None]:
    """The hazard and colour a signal name mentions (``暴雨橙色预警``), either ``None`` if absent.

    Raises:
        AlertRejected: The name mentions two different hazards or two different colours.
    """
    hazards, levels = terms.read_signal(name, plan)
    return (
        _one(hazards, f"signal name {name!r} names several hazards", field),
        _one(levels, f"signal name {name!r} names several levels", field),
    )


def areas(names: Iterable[str], plan: Plan, *, field: str = "areas") -> tuple[str, ...]:
    """Map area names (each may list several, or be a code) to canonical area ids.

    Returns:
        ``("citywide",)`` or district ids in catalogue order, never empty.

    Raises:
        AlertRejected: A name is not a known area, or there are no names at all.
    """
    found: list[str] = []
    for name in names:
        try:
            found.extend(catalogue.read_areas(name, plan))
        except UnknownNameError as exc:
            raise AlertRejected(str(exc), field=field) from None
    if not found:
        raise AlertRejected("no areas given", field=field)
    return catalogue.canonical_areas(found, plan)


def geocode(value: str, plan: Plan, *, field: str = "geocode") -> str | None:
    """Map a GB/T 2260 code to an area id, or ``None`` for codes of other schemes.

    Raises:
        AlertRejected: The value looks like a code of the plan's province but is unknown.
    """
    try:
        return catalogue.resolve_geocode(value, plan)
    except UnknownNameError as exc:
        raise AlertRejected(str(exc), field=field) from None


def _one(found: tuple[_T, ...], reason: str, field: str) -> _T | None:
    if len(found) > 1:
        raise AlertRejected(f"{reason} ({', '.join(map(str, found))})", field=field)
    return found[0] if found else None
