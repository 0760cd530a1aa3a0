"""compare_plans: what changing the plan would add, remove or change per hazard and colour."""

from __future__ import annotations

import dataclasses

from plans.compare import compare_plans
from plans.model import Hazard, Level, Plan, ResponseLevel, compute_content_hash


def _rehash(plan: Plan, **changes: object) -> Plan:
    changed = dataclasses.replace(plan, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(changed, content_hash=compute_content_hash(changed))


def test_same_plan_no_differences(plan: Plan) -> None:
    result = compare_plans(plan, plan)
    assert result.is_empty and not result.needs_new_version


def test_added_removed_and_changed_actions(plan: Plan) -> None:
    prelower = plan.action("drainage.prelower")
    faster = dataclasses.replace(prelower, deadline_minutes=90)
    moved = dataclasses.replace(plan.action("greening.close-parks"), level=ResponseLevel.III)
    actions = tuple(
        faster if a.id == prelower.id else moved if a.id == moved.id else a
        for a in plan.actions
        if a.id != "water.floodwall-patrol"
    )
    new = _rehash(plan, actions=actions)
    result = compare_plans(plan, new)
    assert result.needs_new_version
    by_key = {(c.hazard, c.level): c for c in result.levels}
    flood_blue = by_key[(Hazard.FLOOD, Level.BLUE)]
    assert flood_blue.removed == ("water.floodwall-patrol",)
    assert [(c.action_id, c.fields) for c in flood_blue.changed] == [
        ("drainage.prelower", ("deadline_minutes",))
    ]
    wind_yellow = by_key[(Hazard.WIND, Level.YELLOW)]
    assert wind_yellow.added == ("greening.close-parks",)
    assert (Hazard.WIND, Level.BLUE) in by_key  # prelower changed there too
    assert result.entries == ()


def test_level_map_and_catalogue_changes(plan: Plan) -> None:
    tide = next(h for h in plan.hazards if h.hazard == Hazard.TIDE)
    hazards = tuple(
        dataclasses.replace(h, blue=ResponseLevel.III) if h is tide else h for h in plan.hazards
    )
    new = _rehash(plan, hazards=hazards, version="2025.2", assets=plan.assets[1:])
    result = compare_plans(plan, new)
    assert not result.needs_new_version
    tide_blue = next(c for c in result.levels if (c.hazard, c.level) == (Hazard.TIDE, Level.BLUE))
    assert (tide_blue.before, tide_blue.after) == (ResponseLevel.IV, ResponseLevel.III)
    assert "grid.door-to-door" in tide_blue.added
    kinds = {(e.kind, e.id, e.change) for e in result.entries}
    assert ("asset", plan.assets[0].id, "removed") in kinds
    assert ("plan", "shanghai", "changed") in kinds


def test_vocabulary_changes_are_listed(plan: Plan) -> None:
    wind = plan.hazard_terms[0]
    words = (dataclasses.replace(wind, terms=(*wind.terms, "windstorm")), *plan.hazard_terms[1:])
    city = dataclasses.replace(plan.city, aliases=())
    codes = dataclasses.replace(plan.districts[0], codes=())
    new = _rehash(plan, hazard_terms=words, city=city, districts=(codes, *plan.districts[1:]))
    kinds = {(e.kind, e.id, e.change, e.fields) for e in compare_plans(plan, new).entries}
    assert kinds == {
        ("hazard terms", "wind", "changed", ("terms",)),
        ("plan", "shanghai", "changed", ("city",)),
        ("district", plan.districts[0].id, "changed", ("codes",)),
    }
    assert compare_plans(plan, new).needs_new_version
