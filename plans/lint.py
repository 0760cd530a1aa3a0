"""Checks that need the whole plan: coverage, escalation timing, unused entries, and templates
rendered with sample data. ``plans.schema`` has already checked types and references.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial

from plans.errors import Problem, RenderError, Severity
from plans.model import (
    CITYWIDE,
    LEVELS,
    Action,
    EscalationKind,
    Notice,
    NoticeSpec,
    Plan,
    Scope,
    Task,
)
from plans.render import render_escalation, render_notice, render_task
from plans.rules import build_task
from plans.schema import Where


def _problem(
    origins: dict[str, Where], key: str, message: str, severity: Severity = Severity.ERROR
) -> Problem:
    where = origins.get(key) or origins.get(key.rsplit(":", 1)[0])
    if where is None:
        return Problem("", 0, key, message, severity)
    return Problem(where.file, where.line, where.field, message, severity)


def _coverage(plan: Plan, origins: dict[str, Where]) -> Iterator[Problem]:
    for rule in plan.hazards:
        for colour in LEVELS:
            response = rule.response_for(colour)
            due = [
                a
                for a in plan.actions
                if rule.hazard in a.hazards and a.level.rank <= response.rank
            ]
            if not due:
                yield _problem(
                    origins,
                    f"hazard:{rule.hazard.value}:{colour.value}",
                    f"no action responds to a {colour.value} {rule.hazard.value} warning "
                    f"(response level {response.value})",
                )


def _escalation(plan: Plan, origins: dict[str, Where]) -> Iterator[Problem]:
    for action in plan.actions:
        last = action.escalation[-1]
        if last.after_minutes > action.deadline_minutes:
            yield _problem(
                origins,
                f"action:{action.id}:escalation",
                f"the city HQ hears of a missing acknowledgement only after {last.after_minutes} "
                f"min, past the {action.deadline_minutes} min deadline "
                f"(policy {action.escalation_policy!r})",
                Severity.WARNING,
            )


def _unused(plan: Plan, origins: dict[str, Where]) -> Iterator[Problem]:
    busy = {a.agency for a in plan.actions} | {n.agency for n in plan.notices}
    for agency in plan.agencies:
        if agency.id not in busy:
            yield _problem(
                origins, f"agency:{agency.id}", "agency has no actions", Severity.WARNING
            )
    for action in plan.actions:
        if action.scope != Scope.ASSET:
            continue
        if not any(
            asset.kind == action.asset_kind
            and (not action.districts or asset.district in action.districts)
            for asset in plan.assets
        ):
            yield _problem(
                origins,
                f"action:{action.id}",
                f"no {action.asset_kind} assets are listed, so the action never gives a task",
                Severity.WARNING,
            )


def sample_task(plan: Plan, action: Action, hazard_index: int = 0) -> Task | None:
    """Build a task of the action in its first possible area, for checking templates.

    Args:
        plan: The plan.
        action: The action.
        hazard_index: Which of the action's hazards to attribute the task to.

    Returns:
        The sample task, or ``None`` for a per-asset action without assets.
    """
    hazard = action.hazards[hazard_index]
    if action.scope == Scope.CITYWIDE:
        return build_task(action, CITYWIDE, None, hazard)
    districts = action.districts or tuple(d.id for d in plan.districts)
    if action.scope == Scope.DISTRICT:
        return build_task(action, districts[0], None, hazard)
    for asset in plan.assets:
        if asset.kind == action.asset_kind and asset.district in districts:
            return build_task(action, asset.district, asset.id, hazard)
    return None


def _render_problem(
    origins: dict[str, Where],
    key: str,
    render: Callable[[Sequence[str]], object],
    languages: Sequence[str],
) -> Problem | None:
    """Render in each language; return the first failure as a problem at ``key.<lang>``."""
    for lang in languages:
        try:
            render((lang,))
        except RenderError as exc:
            return _problem(origins, f"{key}.{lang}", f"template fails with sample data: {exc}")
    return None


def _sample_notices(plan: Plan, spec: NoticeSpec) -> Iterator[Notice]:
    for area in (CITYWIDE, plan.districts[0].id):
        for hazard in spec.hazards:
            yield Notice(
                f"{spec.id}@{area}/{spec.level.value}",
                spec.id,
                spec.agency,
                spec.audience,
                area,
                hazard,
                spec.level,
                spec.deadline_minutes,
            )


def _templates(plan: Plan, origins: dict[str, Where]) -> Iterator[Problem]:
    """Render every template with sample data: each action with each of its hazards, each
    notice for the city and a district, each escalation slip for a city and a district task.
    At most one problem per template."""
    langs = plan.languages
    samples: dict[Scope, Task] = {}
    for action in plan.actions:
        tasks = [sample_task(plan, action, i) for i in range(len(action.hazards))]
        for task in filter(None, tasks):
            samples.setdefault(action.scope, task)
            key = f"action:{action.id}:instructions"
            problem = _render_problem(origins, key, partial(render_task, plan, task), langs)
            if problem:
                yield problem
                break
    for spec in plan.notices:
        for notice in _sample_notices(plan, spec):
            key = f"notice:{spec.id}:templates"
            problem = _render_problem(origins, key, partial(render_notice, plan, notice), langs)
            if problem:
                yield problem
                break
    for kind in EscalationKind:
        steps = [(t, s) for t in samples.values() for s in t.escalation if s.kind == kind]
        for task, step in steps:
            problem = _render_problem(
                origins,
                f"message:{kind.value}",
                partial(render_escalation, plan, task, step),
                langs,
            )
            if problem:
                yield problem
                break


def lint(plan: Plan, origins: dict[str, Where]) -> list[Problem]:
    """Run the whole-plan checks.

    Args:
        plan: A plan that passed the schema checks.
        origins: Where each object was defined (``PlanReader.origins``).

    Returns:
        Problems found (errors and warnings).
    """
    return [
        *_coverage(plan, origins),
        *_escalation(plan, origins),
        *_unused(plan, origins),
        *_templates(plan, origins),
    ]
