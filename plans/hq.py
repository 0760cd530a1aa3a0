"""The flood-control headquarters' own decisions, and how they combine with the signals.

Warnings start units at once, without asking (不用请示); that never changes. But the HQ also
decides on its own: it starts a response ahead of a signal, raises or lowers a level, holds one
below what the signals alone suggest, raises only some districts, or ends a response while a
weak signal is still up. A :class:`HqDecision` declares one of those for the city or named
districts; this module keeps the declarations in force (:class:`HqLedger`) and applies them to
the automatic assessment (:func:`apply_declarations`). Pure, deterministic, no I/O.

The rules (``docs/plans.md`` "HQ decisions" says the same for duty officers):

1. A declaration sets the *declared level* of its areas: ``start``, ``raise``, ``lower`` and
   ``hold`` declare their level, ``end`` declares no response.
2. For an area, the latest declaration naming it (by ``sent``) is the one in force; a
   ``withdraw`` (naming the declaration by id in ``references``) removes it. Districts with no
   declaration of their own follow a citywide one.
3. The effective level of an area is the declared one, except where the automatic level is
   higher and either the declaration is a ``start`` or ``raise`` (a floor: the HQ raises, it
   does not cap) or the automatic level comes from a signal at or above
   :data:`OVERRIDE_COLOUR` (any red raises above a ``hold``, ``lower`` or ``end`` too).
4. A declaration may name the hazards it responds to (a response started ahead of the
   signal): they count as in force in its areas at the colour of the declared level, so the
   plan's tasks for those hazards are dispatched. Without one, tasks come from the signals in
   force; a raise then adds the tasks of the higher level for those hazards.
5. As for signals, a district is never below the city.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from plans.model import (
    CITYWIDE,
    LEVELS,
    RESPONSE_LEVELS,
    Hazard,
    HazardLevel,
    Level,
    ResponseLevel,
)
from plans.rules import Assessment

OVERRIDE_COLOUR = Level.RED
"""A signal of this colour or above raises above any HQ declaration (rule 3)."""


class HqKind(StrEnum):
    """What the HQ declares."""

    START = "start"
    RAISE = "raise"
    LOWER = "lower"
    HOLD = "hold"
    END = "end"
    WITHDRAW = "withdraw"


FLOORS = (HqKind.START, HqKind.RAISE)
"""Declarations that set a floor: signals going higher still raise the area (rule 3)."""


class HqOutcome(StrEnum):
    """What the ledger made of a decision."""

    APPLY = "apply"
    DUPLICATE = "duplicate"
    STALE = "stale"
    REJECTED = "rejected"


@dataclass(frozen=True, kw_only=True)
class HqDecision:
    """One decision of the flood-control headquarters."""

    id: str
    """Unique per decision (the channel's message id)."""
    decided_by: str
    """Who decided: a person or the HQ's name (the account that sent it is audited apart)."""
    sent: datetime
    """When it was decided; timezone-aware. Orders decisions naming the same area."""
    kind: HqKind
    level: ResponseLevel | None = None
    """The declared level; required for start, raise, lower and hold, absent otherwise."""
    areas: tuple[str, ...] = ()
    """``("citywide",)`` or district ids; empty for a withdraw."""
    hazards: tuple[Hazard, ...] = ()
    """Hazards the decision responds to, when no signal is up yet (rule 4)."""
    reason: str = ""
    references: tuple[str, ...] = ()
    """For a withdraw: the id of the declaration it withdraws."""

    @property
    def fingerprint(self) -> str:
        """Content without ``id`` and ``sent``: the same decision re-sent under a new id."""
        content = {
            "kind": self.kind.value,
            "level": self.level.value if self.level else None,
            "areas": list(self.areas),
            "hazards": [h.value for h in self.hazards],
            "reason": self.reason,
            "references": list(self.references),
            "decided_by": self.decided_by,
        }
        canonical = json.dumps(content, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def problem(decision: HqDecision, district_ids: tuple[str, ...]) -> str | None:
    """Why a decision can never apply, or ``None``: the validation every channel shares."""
    if decision.kind is HqKind.WITHDRAW:
        if len(decision.references) != 1:
            return "references: a withdraw names exactly one earlier decision"
        return None
    if not decision.areas:
        return "areas: name citywide or at least one district"
    unknown = [a for a in decision.areas if a != CITYWIDE and a not in district_ids]
    if unknown:
        return f"areas: unknown {', '.join(unknown)}"
    if CITYWIDE in decision.areas and len(decision.areas) > 1:
        return "areas: citywide already covers every district"
    if decision.kind is HqKind.END:
        return "level: an end declares no level" if decision.level else None
    if decision.level is None:
        return f"level: a {decision.kind} declares a response level (IV, III, II or I)"
    return None


@dataclass(frozen=True)
class HqResult:
    """The ledger's decision on one HQ decision."""

    decision_id: str
    outcome: HqOutcome
    reason: str


@dataclass
class HqLedger:
    """The HQ declarations received, and which are in force. Workflow state: plain data."""

    received: dict[str, str] = field(default_factory=dict)
    """Decision id to fingerprint, for duplicates (kept for the response's life)."""
    declarations: list[HqDecision] = field(default_factory=list)
    """Declarations in force, in ``sent`` order (ties: arrival order)."""

    def accept(self, decision: HqDecision) -> HqResult:
        """Decide one HQ decision and apply it."""
        if decision.id in self.received:
            return HqResult(decision.id, HqOutcome.DUPLICATE, "this decision id was received")
        if decision.fingerprint in self.received.values():
            return HqResult(
                decision.id, HqOutcome.DUPLICATE, "the same decision was received under another id"
            )
        self.received[decision.id] = decision.fingerprint
        if decision.kind is HqKind.WITHDRAW:
            return self._withdraw(decision)
        if self._superseded(decision):
            return HqResult(
                decision.id,
                HqOutcome.STALE,
                "every area it names has a later declaration in force",
            )
        self.declarations.append(decision)
        self.declarations.sort(key=lambda d: d.sent)
        return HqResult(decision.id, HqOutcome.APPLY, f"{decision.kind} declared")

    def active(self) -> tuple[HqDecision, ...]:
        """The declarations in force, in ``sent`` order."""
        return tuple(self.declarations)

    def _withdraw(self, decision: HqDecision) -> HqResult:
        target = decision.references[0]
        kept = [d for d in self.declarations if d.id != target]
        if len(kept) == len(self.declarations):
            return HqResult(
                decision.id, HqOutcome.REJECTED, f"references: no declaration {target!r} in force"
            )
        self.declarations = kept
        return HqResult(decision.id, HqOutcome.APPLY, f"declaration {target!r} withdrawn")

    def _superseded(self, decision: HqDecision) -> bool:
        latest = declared_per_area(self.active())
        return all(a in latest and latest[a].sent > decision.sent for a in decision.areas)


def declared_per_area(declarations: tuple[HqDecision, ...]) -> dict[str, HqDecision]:
    """The declaration in force for each area it names (rule 2: the latest wins)."""
    out: dict[str, HqDecision] = {}
    for decision in declarations:  # in sent order: later ones overwrite
        for area in decision.areas:
            out[area] = decision
    return out


def colour_of(level: ResponseLevel) -> Level:
    """The signal colour that corresponds to a response level (IV blue ... I red)."""
    return LEVELS[RESPONSE_LEVELS.index(level)]


def apply_declarations(
    automatic: dict[str, Assessment],
    declarations: tuple[HqDecision, ...],
    district_ids: tuple[str, ...],
) -> dict[str, Assessment]:
    """The effective assessment per area: the automatic one with the HQ's declarations applied.

    Args:
        automatic: Area to assessment from the signals alone (``plans.rules.assess``).
        declarations: The declarations in force (:meth:`HqLedger.active`).
        district_ids: The plan's districts, in catalogue order.

    Returns:
        Area to effective assessment, citywide first; areas without a response omitted.
    """
    if not declarations:
        return automatic
    per_area = declared_per_area(declarations)
    city = _effective(automatic.get(CITYWIDE), per_area.get(CITYWIDE))
    out: dict[str, Assessment] = {}
    if city is not None:
        out[CITYWIDE] = city
    for district in district_ids:
        declared = per_area.get(district) or per_area.get(CITYWIDE)
        own = _effective(automatic.get(district), declared)
        if city is not None and (own is None or own.level.rank < city.level.rank):
            own = Assessment(
                city.level,
                own.base if own else city.base,
                own.hazards if own else city.hazards,
                own.compound if own else (),
                True,
            )
        if own is not None:
            out[district] = own
    return out


def _effective(auto: Assessment | None, declared: HqDecision | None) -> Assessment | None:
    """Rules 1, 3 and 4 for one area."""
    if declared is None:
        return auto
    override = auto is not None and any(h.level.rank >= OVERRIDE_COLOUR.rank for h in auto.hazards)
    if declared.kind is HqKind.END or declared.level is None:
        return auto if override else None
    level = declared.level
    higher = auto is not None and auto.level.rank > level.rank
    if higher and (override or declared.kind in FLOORS):
        return _with_hazards(auto, declared)
    return _with_hazards(auto, declared, level)


def _with_hazards(
    auto: Assessment | None, declared: HqDecision, level: ResponseLevel | None = None
) -> Assessment:
    """``auto`` at ``level`` (its own if ``None``), with the hazards the declaration names."""
    level = level or (auto.level if auto else declared.level)
    assert level is not None
    hazards = list(auto.hazards) if auto else []
    present = {h.hazard for h in hazards}
    hazards += [HazardLevel(h, colour_of(level)) for h in declared.hazards if h not in present]
    hazards.sort(key=lambda h: list(Hazard).index(h.hazard))
    # With no hazard in force or named, the level stands but no hazard's tasks are due.
    compound = auto.compound if auto is not None and auto.level == level else ()
    return Assessment(level, auto.base if auto else level, tuple(hazards), compound)
