"""Pure decision functions: which response level each area reaches, which tasks are due, and how
to get from one response to the next.

Everything here is deterministic and free of I/O, so workflows may call it directly. Output
order never depends on set or dict iteration: areas come in catalogue order and tasks and
notices are sorted by id.

The rules, in order:

1. Each warning covers its areas; a ``citywide`` warning covers the city and every district.
   Per area and hazard, the highest colour counts.
2. An area's base level is the highest response level its hazards map to (``Plan.hazards``).
3. Compound rules whose conditions all hold in the area raise it (by steps, or to a floor).
4. A district is never below the city.
5. An action is due in an area when the area's level is at or above the action's level and one
   of the action's hazards is active there. Higher levels therefore only add tasks.
6. Notices go to the city, and to each district whose level differs from the city's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plans.errors import UnknownAreaError
from plans.model import (
    CITYWIDE,
    Action,
    ActiveWarning,
    Asset,
    AssetKind,
    CompoundRule,
    Diff,
    Hazard,
    HazardLevel,
    Level,
    LevelChange,
    Notice,
    Plan,
    Response,
    ResponseLevel,
    Scope,
    StandDown,
    Task,
    raise_level,
)


@dataclass(frozen=True)
class Assessment:
    """Why an area is at its response level."""

    level: ResponseLevel
    """The area's response level."""
    base: ResponseLevel
    """The level from single hazards alone, before compound rules and the city floor."""
    hazards: tuple[HazardLevel, ...]
    """Hazards in force in the area, in ``Hazard`` order."""
    compound: tuple[str, ...]
    """Ids of the compound rules that raised the level, in plan order."""
    city_floor: bool = False
    """True when the district's own assessment was lower and it takes the city's level."""


def _area_hazards(warnings: Sequence[ActiveWarning], plan: Plan) -> dict[str, dict[Hazard, Level]]:
    district_ids = [d.id for d in plan.districts]
    known = set(district_ids)
    found: dict[str, dict[Hazard, Level]] = {}
    for warning in warnings:
        for area in warning.areas:
            if area == CITYWIDE:
                targets: Iterable[str] = (CITYWIDE, *district_ids)
            elif area in known:
                targets = (area,)
            else:
                raise UnknownAreaError(
                    f"warning {warning.hazard}={warning.level} names unknown area {area!r}; "
                    "use 'citywide' or a district id (see plans.catalogue.resolve_areas)"
                )
            for target in targets:
                levels = found.setdefault(target, {})
                current = levels.get(warning.hazard)
                if current is None or warning.level.rank > current.rank:
                    levels[warning.hazard] = warning.level
    return found


def _rule_applies(rule: CompoundRule, area: str, hazards: dict[Hazard, Level]) -> bool:
    if rule.districts and area not in rule.districts:
        return False
    for condition in rule.when:
        level = hazards.get(condition.hazard)
        if level is None or level.rank < condition.level.rank:
            return False
    return True


def _assess_area(plan: Plan, area: str, hazards: dict[Hazard, Level]) -> Assessment:
    base = max(
        (
            rule.response_for(hazards[rule.hazard])
            for rule in plan.hazards
            if rule.hazard in hazards
        ),
        key=lambda level: level.rank,
    )
    level = base
    raised: list[str] = []
    for rule in plan.compound_rules:
        if not _rule_applies(rule, area, hazards):
            continue
        candidate = raise_level(base, rule.raise_by)
        if rule.at_least is not None and rule.at_least.rank > candidate.rank:
            candidate = rule.at_least
        if candidate.rank > base.rank:
            raised.append(rule.id)
        if candidate.rank > level.rank:
            level = candidate
    in_force = tuple(HazardLevel(h, hazards[h]) for h in Hazard if h in hazards)
    return Assessment(level=level, base=base, hazards=in_force, compound=tuple(raised))


def assess(warnings: Sequence[ActiveWarning], plan: Plan) -> dict[str, Assessment]:
    """Work out each area's response level and why.

    Args:
        warnings: Warnings in force; area ids must be ``citywide`` or district ids.
        plan: The plan to apply.

    Returns:
        Area id to assessment, ``citywide`` first and then districts in catalogue order;
        areas without a response are omitted.

    Raises:
        UnknownAreaError: A warning names an area that is not in the plan.
    """
    found = _area_hazards(warnings, plan)
    out: dict[str, Assessment] = {}
    if CITYWIDE in found:
        out[CITYWIDE] = _assess_area(plan, CITYWIDE, found[CITYWIDE])
    city = out.get(CITYWIDE)
    for district in plan.districts:
        hazards = found.get(district.id)
        if hazards is None:
            continue
        assessment = _assess_area(plan, district.id, hazards)
        if city is not None and city.level.rank > assessment.level.rank:
            assessment = Assessment(
                city.level, assessment.base, assessment.hazards, assessment.compound, True
            )
        out[district.id] = assessment
    return out


def build_task(action: Action, area: str, asset: str | None, hazard: Hazard) -> Task:
    """Make the task an action gives in one area (and at one asset).

    Args:
        action: The plan action.
        area: ``citywide`` or a district id.
        asset: Asset id for per-asset actions, else ``None``.
        hazard: The hazard the task is attributed to.

    Returns:
        The task, with its deterministic id.
    """
    task_id = f"{action.id}@{area}" if asset is None else f"{action.id}@{area}/{asset}"
    return Task(
        id=task_id,
        action_id=action.id,
        agency=action.agency,
        area=area,
        asset=asset,
        hazard=hazard,
        response_level=action.level,
        deadline_minutes=action.deadline_minutes,
        ack_timeout_minutes=action.ack_timeout_minutes,
        escalation=action.escalation,
        on_stand_down=action.on_stand_down,
    )


def _first_active(
    hazards: Sequence[Hazard], assessment: Assessment, min_warning: Level | None = None
) -> Hazard | None:
    """Return the first of ``hazards`` in force in the area (at ``min_warning`` or above)."""
    minimum = min_warning.rank if min_warning is not None else 0
    active = {item.hazard for item in assessment.hazards if item.level.rank >= minimum}
    for hazard in hazards:
        if hazard in active:
            return hazard
    return None


def _tasks(plan: Plan, assessments: dict[str, Assessment]) -> list[Task]:
    assets: dict[tuple[AssetKind, str], list[Asset]] = {}
    for asset in plan.assets:
        assets.setdefault((asset.kind, asset.district), []).append(asset)
    tasks: list[Task] = []
    for action in plan.actions:
        for area, assessment in assessments.items():
            if (area == CITYWIDE) != (action.scope == Scope.CITYWIDE):
                continue
            if action.districts and area not in action.districts:
                continue
            if assessment.level.rank < action.level.rank:
                continue
            hazard = _first_active(action.hazards, assessment, action.min_warning)
            if hazard is None:
                continue
            if action.scope == Scope.ASSET and action.asset_kind is not None:
                for asset in assets.get((action.asset_kind, area), ()):
                    tasks.append(build_task(action, area, asset.id, hazard))
            else:
                tasks.append(build_task(action, area, None, hazard))
    return tasks


def _notices(plan: Plan, assessments: dict[str, Assessment]) -> list[Notice]:
    city = assessments.get(CITYWIDE)
    notices: list[Notice] = []
    for area, assessment in assessments.items():
        if area != CITYWIDE and city is not None and city.level == assessment.level:
            continue
        for spec in plan.notices:
            if assessment.level.rank < spec.level.rank:
                continue
            hazard = _first_active(spec.hazards, assessment)
            if hazard is None:
                continue
            notices.append(
                Notice(
                    id=f"{spec.id}@{area}/{assessment.level.value}",
                    spec_id=spec.id,
                    agency=spec.agency,
                    audience=spec.audience,
                    area=area,
                    hazard=hazard,
                    response_level=assessment.level,
                    deadline_minutes=spec.deadline_minutes,
                )
            )
    return notices


def area_order(area: str) -> tuple[bool, str]:
    """Sort key for area ids: ``citywide`` first, then districts by id."""
    return (area != CITYWIDE, area)


def respond(warnings: Sequence[ActiveWarning], plan: Plan) -> Response:
    """Apply the plan to the warnings in force.

    Args:
        warnings: Every warning currently in force (order and duplicates do not matter).
        plan: The plan to apply.

    Returns:
        The response level per area (``citywide`` first, then district ids in sorted order)
        and every task and notice due, sorted by id.

    Raises:
        UnknownAreaError: A warning names an area that is not in the plan.
    """
    return response_of(assess(warnings, plan), plan)


def response_of(assessments: dict[str, Assessment], plan: Plan) -> Response:
    """The response (levels, tasks, notices) for per-area assessments.

    Args:
        assessments: Area to assessment, from :func:`assess` or with the HQ's declarations
            applied (``plans.hq.apply_declarations``).
        plan: The plan to apply.

    Returns:
        The response; areas ``citywide`` first, tasks and notices sorted by id.
    """
    return Response(
        levels={area: assessments[area].level for area in sorted(assessments, key=area_order)},
        tasks=tuple(sorted(_tasks(plan, assessments), key=lambda t: t.id)),
        notices=tuple(sorted(_notices(plan, assessments), key=lambda n: n.id)),
        plan=plan.ref,
    )


def diff(before: Response, after: Response) -> Diff:
    """Compare two responses: what to dispatch, stand down, keep, update and announce.

    A task that is no longer due is stood down or kept as its ``on_stand_down`` (from the
    earlier plan) says. An upgrade therefore only dispatches; a downgrade or cancellation only
    stands down or keeps.

    Args:
        before: The response currently acted on.
        after: The new response.

    Returns:
        The difference; ``apply_diff(before, diff(before, after)) == after``.
    """
    old_tasks = {t.id: t for t in before.tasks}
    new_tasks = {t.id: t for t in after.tasks}
    gone = [t for t in before.tasks if t.id not in new_tasks]
    old_notices = {n.id: n for n in before.notices}
    new_ids = {n.id for n in after.notices}
    areas = sorted(set(before.levels) | set(after.levels), key=area_order)
    return Diff(
        dispatch=tuple(t for t in after.tasks if t.id not in old_tasks),
        stand_down=tuple(t for t in gone if t.on_stand_down != StandDown.KEEP),
        keep=tuple(t for t in gone if t.on_stand_down == StandDown.KEEP),
        update=tuple(t for t in after.tasks if t.id in old_tasks and old_tasks[t.id] != t),
        notices=tuple(n for n in after.notices if old_notices.get(n.id) != n),
        retired_notices=tuple(n for n in before.notices if n.id not in new_ids),
        level_changes=tuple(
            LevelChange(area, before.levels.get(area), after.levels.get(area))
            for area in areas
            if before.levels.get(area) != after.levels.get(area)
        ),
        plan=after.plan,
    )


def apply_diff(before: Response, change: Diff) -> Response:
    """Apply a diff to the response it was computed from.

    Args:
        before: The earlier response.
        change: ``diff(before, after)``.

    Returns:
        The later response (equal to ``after``).
    """
    removed = {t.id for t in (*change.stand_down, *change.keep)}
    tasks = {t.id: t for t in before.tasks if t.id not in removed}
    tasks |= {t.id: t for t in (*change.dispatch, *change.update)}
    retired = {n.id for n in change.retired_notices}
    notices = {n.id: n for n in before.notices if n.id not in retired}
    notices |= {n.id: n for n in change.notices}
    levels = dict(before.levels)
    for level_change in change.level_changes:
        if level_change.after is None:
            levels.pop(level_change.area, None)
        else:
            levels[level_change.area] = level_change.after
    return Response(
        levels={area: levels[area] for area in sorted(levels, key=area_order)},
        tasks=tuple(tasks[i] for i in sorted(tasks)),
        notices=tuple(notices[i] for i in sorted(notices)),
        plan=change.plan,
    )
