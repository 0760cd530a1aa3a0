"""Property-based tests of the rules over arbitrary sets of warnings (hypothesis)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from plans.loader import load_plan
from plans.model import CITYWIDE, LEVELS, ActiveWarning, Hazard, Level, Plan
from plans.rules import apply_diff, diff, respond

PLAN: Plan = load_plan()
AREAS = (CITYWIDE, *(d.id for d in PLAN.districts))
TASK_ID = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+@[a-z0-9-]+(/[a-z0-9-]+)?")

hazards = st.sampled_from(list(Hazard))
levels = st.sampled_from(LEVELS)
areas = st.lists(st.sampled_from(AREAS), min_size=1, max_size=3, unique=True).map(tuple)
warning = st.builds(ActiveWarning, hazards, levels, areas)
warnings = st.lists(warning, max_size=5)

# Moderate, and set per test so other test modules keep their own hypothesis settings.
moderate = settings(max_examples=60, deadline=None)


def _ids(ws: list[ActiveWarning]) -> set[str]:
    return {t.id for t in respond(ws, PLAN).tasks}


@moderate
@given(
    background=warnings,
    hazard=hazards,
    area=st.sampled_from(AREAS),
    pair=st.lists(levels, min_size=2, max_size=2, unique=True).map(
        lambda ls: sorted(ls, key=lambda lv: lv.rank)
    ),
)
def test_higher_level_never_dispatches_fewer_tasks(
    background: list[ActiveWarning], hazard: Hazard, area: str, pair: list[Level]
) -> None:
    lower, higher = pair
    low = _ids([*background, ActiveWarning(hazard, lower, (area,))])
    high = _ids([*background, ActiveWarning(hazard, higher, (area,))])
    assert low <= high
    low_level = respond([ActiveWarning(hazard, lower, (area,))], PLAN).levels[area]
    high_level = respond([ActiveWarning(hazard, higher, (area,))], PLAN).levels[area]
    assert low_level.rank <= high_level.rank


@moderate
@given(ws=warnings, data=st.data())
def test_ids_are_stable(ws: list[ActiveWarning], data: st.DataObject) -> None:
    response = respond(ws, PLAN)
    shuffled = data.draw(st.permutations(ws))
    extra = data.draw(st.lists(st.sampled_from(ws), max_size=3)) if ws else []
    duplicated = [*shuffled, *extra]
    assert respond(duplicated, PLAN) == response
    ids = [t.id for t in response.tasks]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(TASK_ID.fullmatch(i) for i in ids)
    assert all(t.area in response.levels for t in response.tasks)
    assert [n.id for n in response.notices] == sorted({n.id for n in response.notices})


@moderate
@given(ws=warnings)
def test_district_never_below_city(ws: list[ActiveWarning]) -> None:
    levels = respond(ws, PLAN).levels
    city = levels.get(CITYWIDE)
    if city is not None:
        assert all(level.rank >= city.rank for level in levels.values())
        assert len(levels) == len(AREAS)


@moderate
@given(ws=warnings)
def test_diff_with_itself_is_empty(ws: list[ActiveWarning]) -> None:
    response = respond(ws, PLAN)
    assert diff(response, response).is_empty


@moderate
@given(a=warnings, b=warnings)
def test_applying_the_diff_yields_the_target(
    a: list[ActiveWarning], b: list[ActiveWarning]
) -> None:
    before, after = respond(a, PLAN), respond(b, PLAN)
    change = diff(before, after)
    assert apply_diff(before, change) == after
    dispatched = {t.id for t in change.dispatch}
    removed = {t.id for t in (*change.stand_down, *change.keep)}
    assert not dispatched & removed
    assert dispatched == {t.id for t in after.tasks} - {t.id for t in before.tasks}


@moderate
@given(ws=warnings, raise_by=st.lists(st.integers(0, 3), min_size=5, max_size=5), extra=warnings)
def test_upgrades_only_add(
    ws: list[ActiveWarning], raise_by: list[int], extra: list[ActiveWarning]
) -> None:
    upgraded = [
        ActiveWarning(w.hazard, LEVELS[min(w.level.rank - 1 + step, 3)], w.areas)
        for w, step in zip(ws, raise_by, strict=False)
    ]
    change = diff(respond(ws, PLAN), respond([*upgraded, *extra], PLAN))
    assert not change.stand_down and not change.keep
    assert all(c.after is not None for c in change.level_changes)
    assert all(
        c.before is None or c.after.rank > c.before.rank for c in change.level_changes if c.after
    )
