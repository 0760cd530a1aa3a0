"""Compare two plans: for each hazard and warning colour, which actions a change of plan adds,
removes or changes, plus changes to the catalogue, compound rules, notices and messages.

Pure; used by ``tidegate plan diff`` and usable in review tooling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plans.model import LEVELS, Action, Hazard, Level, Plan, PlanRef, ResponseLevel


@dataclass(frozen=True)
class ActionChange:
    """An action present in both plans whose definition differs."""

    action_id: str
    """The action."""
    fields: tuple[str, ...]
    """Names of the ``Action`` fields that differ, e.g. ``deadline_minutes``."""


@dataclass(frozen=True)
class HazardLevelChange:
    """What a warning of one hazard and colour would dispatch differently under the new plan."""

    hazard: Hazard
    """The hazard."""
    level: Level
    """The warning colour."""
    before: ResponseLevel
    """Response level it triggers under the old plan."""
    after: ResponseLevel
    """Response level it triggers under the new plan."""
    added: tuple[str, ...]
    """Action ids due only under the new plan."""
    removed: tuple[str, ...]
    """Action ids due only under the old plan."""
    changed: tuple[ActionChange, ...]
    """Actions due under both whose definition changed."""


@dataclass(frozen=True)
class EntryChange:
    """A catalogue entry, rule, notice or message that was added, removed or changed."""

    kind: str
    """``plan``, ``district``, ``group``, ``hazard terms``, ``colour terms``, ``agency``,
    ``asset``, ``compound``, ``notice`` or ``message``."""
    id: str
    """Id of the entry."""
    change: str
    """``added``, ``removed`` or ``changed``."""
    fields: tuple[str, ...] = ()
    """For ``changed``: the fields that differ."""


@dataclass(frozen=True)
class PlanComparison:
    """Everything that differs between two plans."""

    old: PlanRef
    """The old plan."""
    new: PlanRef
    """The new plan."""
    levels: tuple[HazardLevelChange, ...]
    """Hazard and colour combinations whose outcome differs, in ``Hazard`` then colour order."""
    entries: tuple[EntryChange, ...]
    """Other differences."""

    @property
    def is_empty(self) -> bool:
        """True when the plans have the same content."""
        return not self.levels and not self.entries

    @property
    def needs_new_version(self) -> bool:
        """True when the content changed but the version did not."""
        return self.old.content_hash != self.new.content_hash and self.old.version == (
            self.new.version
        )


def _due(plan: Plan, hazard: Hazard, level: Level) -> tuple[ResponseLevel, dict[str, Action]]:
    """The response a single warning triggers and the actions it makes due (anywhere)."""
    response = next(rule.response_for(level) for rule in plan.hazards if rule.hazard == hazard)
    due = {
        action.id: action
        for action in plan.actions
        if hazard in action.hazards
        and action.level.rank <= response.rank
        and (action.min_warning is None or level.rank >= action.min_warning.rank)
    }
    return response, due


def _differing(old: Any, new: Any) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(old)
        if f.name != "id" and getattr(old, f.name) != getattr(new, f.name)
    )


def _entries(
    kind: str, old: Sequence[Any], new: Sequence[Any], key: str = "id"
) -> list[EntryChange]:
    before = {str(getattr(item, key)): item for item in old}
    after = {str(getattr(item, key)): item for item in new}
    out = [EntryChange(kind, key, "removed") for key in before if key not in after]
    for key, item in after.items():
        if key not in before:
            out.append(EntryChange(kind, key, "added"))
        elif item != before[key]:
            out.append(EntryChange(kind, key, "changed", _differing(before[key], item)))
    return out


def _header(old: Plan, new: Plan) -> list[EntryChange]:
    names = ("plan_id", "version", "zh", "en", "languages", "city", "citywide")
    fields = tuple(name for name in names if getattr(old, name) != getattr(new, name))
    return [EntryChange("plan", new.plan_id, "changed", fields)] if fields else []


def _messages(old: Plan, new: Plan) -> list[EntryChange]:
    out: list[EntryChange] = []
    for kind in sorted(set(old.escalation_messages) | set(new.escalation_messages)):
        before, after = old.escalation_messages.get(kind), new.escalation_messages.get(kind)
        if before is None:
            out.append(EntryChange("message", kind, "added"))
        elif after is None:
            out.append(EntryChange("message", kind, "removed"))
        elif before != after:
            langs = tuple(
                k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
            )
            out.append(EntryChange("message", kind, "changed", langs))
    return out


def compare_plans(old: Plan, new: Plan) -> PlanComparison:
    """Compare two plans.

    Args:
        old: The plan in use.
        new: The proposed plan.

    Returns:
        For each hazard and colour, the actions added, removed or changed, and every other
        difference; empty when the plans have the same content.
    """
    levels: list[HazardLevelChange] = []
    for hazard in Hazard:
        for level in LEVELS:
            before, old_due = _due(old, hazard, level)
            after, new_due = _due(new, hazard, level)
            change = HazardLevelChange(
                hazard=hazard,
                level=level,
                before=before,
                after=after,
                added=tuple(sorted(set(new_due) - set(old_due))),
                removed=tuple(sorted(set(old_due) - set(new_due))),
                changed=tuple(
                    ActionChange(key, _differing(old_due[key], new_due[key]))
                    for key in sorted(set(old_due) & set(new_due))
                    if old_due[key] != new_due[key]
                ),
            )
            if before != after or change.added or change.removed or change.changed:
                levels.append(change)
    entries = [
        *_header(old, new),
        *_entries("district", old.districts, new.districts),
        *_entries("group", old.groups, new.groups),
        *_entries("hazard terms", old.hazard_terms, new.hazard_terms, key="hazard"),
        *_entries("colour terms", old.level_terms, new.level_terms, key="level"),
        *_entries("agency", old.agencies, new.agencies),
        *_entries("asset", old.assets, new.assets),
        *_entries("compound", old.compound_rules, new.compound_rules),
        *_entries("notice", old.notices, new.notices),
        *_messages(old, new),
    ]
    return PlanComparison(old.ref, new.ref, tuple(levels), tuple(entries))
