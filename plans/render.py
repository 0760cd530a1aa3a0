"""Render task instructions, notices and escalation slips from the templates inside a plan.

Templates are Jinja2 sources kept in the plan data, so a running response renders with the plan
it pinned. They run in a sandboxed environment with ``StrictUndefined``: an unknown variable is
an error, never blank text. Rendering is pure but not meant for workflow code; call it from
activities (or the CLI).

Template context (every template; ``name`` is the name in the language being rendered):

* ``lang``: the language being rendered, e.g. ``zh``.
* ``plan``: ``id``, ``version``, ``name``.
* ``area``: ``id`` (``citywide`` or a district id), ``zh``, ``en``, ``name``, ``is_citywide``.
* ``hazard``: ``id`` (``wind``...), ``zh``, ``en``, ``name``.
* ``level``: the response level, ``id`` (``IV``...), ``zh`` (``Ⅳ级``), ``en`` (``level IV``),
  ``name``, ``colour`` (the matching warning colour as ``id``/``zh``/``en``/``name``).
* ``agency``: ``id``, ``zh``, ``en``, ``name``.
* ``deadline_minutes``: minutes after dispatch (or after the level was set, for notices).

Task instructions and escalation slips add:

* ``task``: ``id``, ``ack_timeout_minutes``, ``deadline_minutes``.
* ``action``: ``id``, ``zh``, ``en``, ``name`` (the action's short title).
* ``asset``: ``id``, ``kind``, ``zh``, ``en``, ``name``; ``None`` unless the action is per asset.
* ``params``: the action's ``params`` (strings).
* ``ack_timeout_minutes``.

Notices add ``audience`` (``public`` or ``transport``) and ``notice`` (``id``, ``zh``, ``en``,
``name``). Escalation slips add ``step`` (``kind``, ``to``, ``after_minutes``) and ``recipient``
(``id``, ``zh``, ``en``, ``name``: the agency, the district HQ or the city HQ).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from plans.errors import RenderError
from plans.model import (
    CITYWIDE,
    LEVELS,
    EscalationStep,
    Hazard,
    Notice,
    Plan,
    Recipient,
    ResponseLevel,
    Task,
)

HAZARD_NAMES: dict[Hazard, tuple[str, str]] = {
    Hazard.WIND: ("台风、大风", "typhoon or gale"),
    Hazard.RAINSTORM: ("暴雨", "rainstorm"),
    Hazard.TIDE: ("高潮位", "high tide"),
    Hazard.FLOOD: ("洪水", "flood"),
}
"""Chinese and English names of each hazard."""

RESPONSE_NAMES: dict[ResponseLevel, tuple[str, str]] = {
    ResponseLevel.IV: ("Ⅳ级", "level IV"),
    ResponseLevel.III: ("Ⅲ级", "level III"),
    ResponseLevel.II: ("Ⅱ级", "level II"),
    ResponseLevel.I: ("Ⅰ级", "level I"),
}
"""Chinese and English names of each response level."""

COLOUR_NAMES: tuple[tuple[str, str], ...] = (
    ("蓝色", "blue"),
    ("黄色", "yellow"),
    ("橙色", "orange"),
    ("红色", "red"),
)
"""Chinese and English names of the warning colours, blue first."""

CITY_HQ_NAMES = ("上海市防汛指挥部", "Shanghai Flood Control Headquarters")
"""Names of the city flood-control headquarters."""

_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


@lru_cache(maxsize=2048)
def compile_template(source: str) -> Template:
    """Compile a template source in the sandboxed, strict environment (cached by source).

    Args:
        source: Jinja2 template text.

    Returns:
        The compiled template.

    Raises:
        jinja2.TemplateSyntaxError: The source is not valid Jinja2.
    """
    return _ENV.from_string(source)


def _named(ident: str, zh: str, en: str, lang: str) -> dict[str, Any]:
    return {"id": ident, "zh": zh, "en": en, "name": zh if lang == "zh" else en}


def _render(source: str, context: dict[str, Any], what: str) -> str:
    try:
        return compile_template(source).render(context).strip()
    except TemplateError as exc:
        raise RenderError(f"{what}: {exc}") from exc


def _base_context(
    plan: Plan,
    lang: str,
    area_id: str,
    hazard: Hazard,
    level: ResponseLevel,
    agency_id: str,
    deadline_minutes: int,
) -> dict[str, Any]:
    area = plan.area(area_id)
    agency = plan.agency(agency_id)
    colour = LEVELS[level.rank - 1]
    colour_zh, colour_en = COLOUR_NAMES[level.rank - 1]
    return {
        "lang": lang,
        "plan": {
            "id": plan.plan_id,
            "version": plan.version,
            "name": plan.zh if lang == "zh" else plan.en,
        },
        "area": _named(area.id, area.zh, area.en, lang) | {"is_citywide": area.id == CITYWIDE},
        "hazard": _named(hazard.value, *HAZARD_NAMES[hazard], lang),
        "level": _named(level.value, *RESPONSE_NAMES[level], lang)
        | {"colour": _named(colour.value, colour_zh, colour_en, lang)},
        "agency": _named(agency.id, agency.zh, agency.en, lang),
        "deadline_minutes": deadline_minutes,
    }


def task_context(plan: Plan, task: Task, lang: str) -> dict[str, Any]:
    """Build the template context for a task (see the module docstring).

    Args:
        plan: The plan the task came from.
        task: The task.
        lang: Language being rendered.

    Returns:
        The context mapping.

    Raises:
        KeyError: The task names an action, area, agency or asset the plan does not have.
    """
    action = plan.action(task.action_id)
    context = _base_context(
        plan,
        lang,
        task.area,
        task.hazard,
        task.response_level,
        task.agency,
        task.deadline_minutes,
    )
    asset = None
    if task.asset is not None:
        found = plan.asset(task.asset)
        asset = _named(found.id, found.zh, found.en, lang) | {"kind": found.kind.value}
    context |= {
        "task": {
            "id": task.id,
            "deadline_minutes": task.deadline_minutes,
            "ack_timeout_minutes": task.ack_timeout_minutes,
        },
        "action": _named(action.id, action.zh, action.en, lang),
        "asset": asset,
        "params": dict(action.params),
        "ack_timeout_minutes": task.ack_timeout_minutes,
    }
    return context


def render_task(plan: Plan, task: Task, languages: Sequence[str] | None = None) -> dict[str, str]:
    """Render a task's instruction in every language of the plan.

    Args:
        plan: The plan the task came from (the one the response pinned).
        task: The task.
        languages: Only these languages (default: all of ``plan.languages``).

    Returns:
        Language code to instruction text, e.g. ``{"zh": ..., "en": ...}``.

    Raises:
        RenderError: The task does not belong to this plan, or a template failed.
    """
    try:
        action = plan.action(task.action_id)
        contexts = {lang: task_context(plan, task, lang) for lang in languages or plan.languages}
    except KeyError as exc:
        raise RenderError(f"task {task.id}: not in plan {plan.plan_id}: {exc}") from exc
    return {
        lang: _render(action.instructions[lang], context, f"task {task.id} ({lang})")
        for lang, context in contexts.items()
    }


def render_notice(
    plan: Plan, notice: Notice, languages: Sequence[str] | None = None
) -> dict[str, str]:
    """Render a notice in every language of the plan.

    Args:
        plan: The plan the notice came from.
        notice: The notice.
        languages: Only these languages (default: all of ``plan.languages``).

    Returns:
        Language code to notice text.

    Raises:
        RenderError: The notice does not belong to this plan, or a template failed.
    """
    out: dict[str, str] = {}
    for lang in languages or plan.languages:
        try:
            spec = plan.notice_spec(notice.spec_id)
            context = _base_context(
                plan,
                lang,
                notice.area,
                notice.hazard,
                notice.response_level,
                notice.agency,
                notice.deadline_minutes,
            )
        except KeyError as exc:
            raise RenderError(f"notice {notice.id}: not in plan {plan.plan_id}: {exc}") from exc
        context |= {
            "audience": notice.audience.value,
            "notice": _named(notice.id, spec.zh, spec.en, lang),
        }
        out[lang] = _render(spec.templates[lang], context, f"notice {notice.id} ({lang})")
    return out


def _recipient(plan: Plan, task: Task, to: str, lang: str) -> dict[str, Any]:
    if to == Recipient.AGENCY:
        agency = plan.agency(task.agency)
        return _named(to, agency.zh, agency.en, lang)
    if to == Recipient.DISTRICT_HQ and task.area != CITYWIDE:
        district = plan.area(task.area)
        return _named(
            to,
            f"{district.zh}防汛指挥部",
            f"{district.en} Flood Control Headquarters",
            lang,
        )
    return _named(str(to), *CITY_HQ_NAMES, lang)


def render_escalation(
    plan: Plan, task: Task, step: EscalationStep, languages: Sequence[str] | None = None
) -> dict[str, str]:
    """Render an escalation slip (reminder, supervision or warning notice) for a task.

    Args:
        plan: The plan the task came from.
        task: The unacknowledged task.
        step: The escalation step being taken (one of ``task.escalation``).
        languages: Only these languages (default: all of ``plan.languages``).

    Returns:
        Language code to slip text.

    Raises:
        RenderError: The task does not belong to this plan, or a template failed.
    """
    kind, to = str(step.kind), str(step.to)
    templates = plan.escalation_messages.get(kind)
    if templates is None:
        raise RenderError(f"plan {plan.plan_id} has no {kind!r} escalation message")
    out: dict[str, str] = {}
    for lang in languages or plan.languages:
        try:
            context = task_context(plan, task, lang)
            context["recipient"] = _recipient(plan, task, to, lang)
        except KeyError as exc:
            raise RenderError(f"task {task.id}: not in plan {plan.plan_id}: {exc}") from exc
        context["step"] = {"kind": kind, "to": to, "after_minutes": step.after_minutes}
        out[lang] = _render(templates[lang], context, f"{kind} for {task.id} ({lang})")
    return out
