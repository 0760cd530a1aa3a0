"""From a storm timeline to the warnings a drill sends, and the history it is compared with.

:func:`map_timeline` is pure. Each timed ``warning`` entry becomes at most one alert in the
documented JSON form (``docs/alerts.md``) with status ``exercise``, which the drill later sends
through the normal intake (``alerts.intake.parse_alert``, then ``workflows.starters.submit``).
``response`` entries become the headquarters' historical levels, and the HQ decisions that
``--with-hq-decisions`` replays. Everything else (landfalls, observations, untimed entries) is
kept for the report. The rules (also in ``docs/drills.md``):

Hazards
    Read with the plan's hazard terms, as intake reads them: ``typhoon`` and ``gale`` become
    ``wind``; ``rainstorm``, ``tide`` and ``flood`` stay. ``wave`` and ``lightning`` name no
    hazard of the plan and are skipped with a note: tidegate does not act on them.

Areas (each name on its own; an entry keeps the names that map and notes the rest)
    1. Names the plan's catalogue knows: ``citywide`` and its aliases (the plan lists
       黄浦江 / Huangpu River, whose high-tide warnings cover the whole river), districts in any
       spelling, district groups (``coastal``, ``中心城区``...).
    2. Other Shanghai water bodies and river gauges (Suzhou Creek, Huangpu Park, Wusongkou,
       the Yangtze estuary, Dianshan Lake) count as ``citywide``, like the river.
    3. "Central urban districts", "downtown" and similar mean the plan's ``central`` group.
    4. Sea areas (coastal waters, offshore, Hangzhou Bay, 海域...) are skipped with a note:
       no district is responsible for them.
    5. Anything else is skipped with a note, never an error.

Signals (a *chain* is one warning and its updates: same timeline hazard, same areas)
    * ``cancel`` cancels every chain of the hazard within the named areas (``citywide`` names
      them all); nothing to cancel is skipped with a note.
    * ``issue``, ``upgrade`` and ``downgrade`` update the chains of the hazard within the named
      areas, merging them into one (a citywide upgrade absorbs the district signals below it).
      With no such chain, ``issue`` and ``upgrade`` start a new warning for those areas (a
      district observatory's signal on top of the city's); ``downgrade`` is skipped with a
      note, because a district is never below the city and nothing else is in force there.
    * Typhoon and gale chains are separate even though both are wind.

HQ decisions (``response`` entries, replayed only with ``--with-hq-decisions``)
    ``start``, ``upgrade``, ``downgrade`` and ``end`` become the decisions ``start``,
    ``raise``, ``lower`` and ``end`` (``plans.hq``) for the entry's areas, read as above, at its
    level and with its note as the reason; a start or raise also names the entry's hazard
    (typhoon: wind), so it dispatches that hazard's tasks ahead of a signal. Whatever the HQ
    still has in force after the last entry is withdrawn at the closing time, beside the
    closing cancellations, so the response can end.

Ids are ``drill-<run>-<storm>-e<entry index>`` (``-c<n>`` for the closing cancellations;
``-h<entry index>`` and ``-w<n>`` for HQ decisions and their closing withdrawals), so one run's
messages are stable and never collide with another run's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.wire import HQ_REASON
from drills.timeline import Event, EventKind, ResponseAction, StormHazard, Timeline, WarningAction
from plans.catalogue import canonical_areas, normalise_name, resolve_areas
from plans.hq import HqDecision, HqKind, HqLedger
from plans.model import CITYWIDE, Hazard, Plan, ResponseLevel
from plans.terms import parse_hazard

SENDER = "tidegate-drill"
HQ_NAME = "上海市防汛指挥部 (as recorded in the timeline)"
"""Who decided, in the HQ decisions a drill replays."""
HQ_KINDS = {
    ResponseAction.START: HqKind.START,
    ResponseAction.UPGRADE: HqKind.RAISE,
    ResponseAction.DOWNGRADE: HqKind.LOWER,
    ResponseAction.END: HqKind.END,
}
"""The HQ decision a timeline's response entry records."""
MAX_REASON = HQ_REASON.max_chars or 2000
_AHEAD = (ResponseAction.START, ResponseAction.UPGRADE)
"""Entries that name their hazard to the response (``plans.hq`` rule 4: a response started or
raised ahead of the signal dispatches that hazard's tasks); a lower or end only lowers."""

WATER_BODIES = (
    "Suzhou Creek",
    "苏州河",
    "Huangpu Park",
    "黄浦公园",
    "Wusongkou",
    "吴淞口",
    "Yangtze estuary",
    "长江口",
    "Dianshan Lake",
    "淀山湖",
    "Mishidu",
    "米市渡",
)
"""Rivers, lakes and gauges that count as ``citywide`` (the plan already maps the Huangpu)."""

CENTRAL_NAMES = ("central urban districts", "central urban area", "downtown", "urban area", "市区")
"""Names sources use for the plan's ``central`` group (中心城区)."""
CENTRAL_GROUP = "central"

_OFFSHORE = re.compile(r"waters|offshore|\bsea\b|bay|海域|近海|海区|外海|洋山", re.IGNORECASE)


@dataclass(frozen=True)
class Skipped:
    """A timeline entry, or part of one, the drill does not replay, and why."""

    event: Event
    reason: str


@dataclass(frozen=True)
class Step:
    """One warning message to send when the storm clock reaches ``at``."""

    at: datetime
    """Storm time (the entry's ``at``, or the end of the storm for closing cancellations)."""
    alert_id: str
    kind: str
    """``alert``, ``update`` or ``cancel``."""
    hazard: Hazard
    level: str
    areas: tuple[str, ...]
    references: tuple[str, ...]
    headline: str
    description: str
    event: Event | None
    """The entry it comes from; ``None`` for the closing cancellations."""
    note: str = ""
    """How the entry was interpreted, when that was not obvious."""

    def document(self, sent: datetime) -> dict[str, Any]:
        """The alert in the documented JSON form, sent at ``sent`` (the drill's clock)."""
        return {
            "id": self.alert_id,
            "sender": SENDER,
            "sent": sent.isoformat(),
            "status": "exercise",
            "kind": self.kind,
            "references": list(self.references),
            "hazard": self.hazard.value,
            "level": self.level,
            "areas": list(self.areas),
            "headline": self.headline,
            "description": self.description,
        }


@dataclass(frozen=True)
class HqStep:
    """One HQ decision to replay when the storm clock reaches ``at`` (``--with-hq-decisions``)."""

    at: datetime
    """Storm time (the entry's ``at``, or the closing time for the closing withdrawals)."""
    decision_id: str
    kind: HqKind
    level: str | None
    """``IV`` .. ``I``; ``None`` for an end or a withdraw."""
    areas: tuple[str, ...]
    hazards: tuple[Hazard, ...]
    references: tuple[str, ...]
    """For a closing withdrawal: the decision it takes back."""
    reason: str
    event: Event | None
    """The entry it comes from; ``None`` for the closing withdrawals."""

    def document(self, sent: datetime) -> dict[str, Any]:
        """The decision in the documented JSON form (``docs/messages.md``), sent at ``sent``."""
        return {
            "id": self.decision_id,
            "kind": self.kind.value,
            "level": self.level,
            "areas": list(self.areas),
            "hazards": [h.value for h in self.hazards],
            "reason": self.reason,
            "references": list(self.references),
            "decided_by": HQ_NAME,
            "sent": sent.isoformat(),
        }

    def decision(self, sent: datetime) -> HqDecision:
        """The decision :meth:`document` carries, as intake reads it."""
        return HqDecision(
            id=self.decision_id,
            decided_by=HQ_NAME,
            sent=sent,
            kind=self.kind,
            level=ResponseLevel(self.level) if self.level else None,
            areas=self.areas,
            hazards=self.hazards,
            reason=self.reason,
            references=self.references,
        )

    @property
    def summary(self) -> str:
        """``lower III (citywide)``, ``withdraw <id>``."""
        if self.kind is HqKind.WITHDRAW:
            return f"withdraw {', '.join(self.references)}"
        level = f" {self.level}" if self.level else ""
        return f"{self.kind}{level} ({', '.join(self.areas)})"


@dataclass(frozen=True)
class HistoricalLevel:
    """The headquarters' response level in one area from ``at`` (``None``: no response)."""

    at: datetime
    area: str
    level: str | None
    event: Event


@dataclass(frozen=True)
class DrillScript:
    """Everything a drill replays or reports, derived from one timeline."""

    timeline: Timeline
    run_id: str
    steps: tuple[Step, ...]
    """Warnings in storm-time order (entries at equal times keep their file order)."""
    closing: tuple[Step, ...]
    """Cancellations of whatever is still in force after the last entry."""
    skipped: tuple[Skipped, ...]
    historical: tuple[HistoricalLevel, ...]
    hq_steps: tuple[HqStep, ...] = ()
    """The HQ's recorded decisions, in storm-time order (``--with-hq-decisions``)."""
    hq_closing: tuple[HqStep, ...] = ()
    """Withdrawals of the declarations still in force after the last entry."""


@dataclass
class _Chain:
    root: str
    storm_hazard: StormHazard
    hazard: Hazard
    level: str
    areas: tuple[str, ...]


@dataclass
class _Mapper:
    timeline: Timeline
    plan: Plan
    run_id: str
    chains: list[_Chain] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    historical: list[HistoricalLevel] = field(default_factory=list)
    hq_steps: list[HqStep] = field(default_factory=list)

    def alert_id(self, suffix: str) -> str:
        return f"drill-{self.run_id}-{self.timeline.slug}-{suffix}"

    def areas(self, event: Event) -> tuple[str, ...]:
        """Canonical areas of an entry; names that do not map are noted as skipped."""
        found: list[str] = []
        for name in event.areas:
            ids, reason = map_area(name, self.plan)
            if ids:
                found.extend(ids)
            else:
                self.skipped.append(Skipped(event, f"area {name!r}: {reason}"))
        return canonical_areas(found, self.plan)

    def response(self, event: Event) -> None:
        level = None if event.action == ResponseAction.END else event.level
        areas = self.areas(event)
        for area in areas:
            self.historical.append(HistoricalLevel(event.at, area, level, event))
        if not areas:
            return
        hazard = parse_hazard(event.hazard.value, self.plan) if event.hazard else None
        action = event.action or ""
        self.hq_steps.append(
            HqStep(
                at=event.at,
                decision_id=self.alert_id(f"h{event.index}"),
                kind=HQ_KINDS[ResponseAction(action)],
                level=level,
                areas=areas,
                hazards=(hazard,) if hazard is not None and action in _AHEAD else (),
                references=(),
                reason=_reason(self.timeline, event),
                event=event,
            )
        )

    def hq_closing(self, at: datetime) -> tuple[HqStep, ...]:
        """Withdraw what the HQ's decisions leave in force: the same ledger the response
        keeps, fed in storm-time order (each decision's ``sent`` is its entry's time)."""
        ledger = HqLedger()
        for step in self.hq_steps:
            ledger.accept(step.decision(step.at))
        return tuple(
            HqStep(
                at=at,
                decision_id=self.alert_id(f"w{n}"),
                kind=HqKind.WITHDRAW,
                level=None,
                areas=(),
                hazards=(),
                references=(declared.id,),
                reason="The timeline records no end; the drill withdraws it at the end.",
                event=None,
            )
            for n, declared in enumerate(ledger.active())
        )

    def warning(self, event: Event) -> None:
        assert event.hazard is not None
        hazard = parse_hazard(event.hazard.value, self.plan)
        if hazard is None:
            self.skip(
                event,
                f"{event.hazard} warnings are kept for the record; tidegate does not act on them",
            )
            return
        areas = self.areas(event)
        if not areas:
            self.skip(event, "none of its areas is a Shanghai district or the city")
            return
        within = [
            c for c in self.chains if c.storm_hazard is event.hazard and _within(c.areas, areas)
        ]
        if event.action == WarningAction.CANCEL:
            self.cancel(event, hazard, within)
        elif within:
            self.update(event, hazard, areas, within)
        elif event.action == WarningAction.DOWNGRADE:
            covering = [
                c for c in self.chains if c.storm_hazard is event.hazard and _within(areas, c.areas)
            ]
            why = f"no {event.hazard} warning is in force there"
            if covering:
                cover = covering[0]
                why = (
                    f"the {cover.level} {event.hazard} warning for {', '.join(cover.areas)} "
                    "still covers it and a district is never below the city"
                )
            self.skip(event, f"downgrade for {', '.join(areas)} not replayed: {why}")
        else:
            note = ""
            if event.action == WarningAction.UPGRADE:
                note = (
                    f"upgrade with no {event.hazard} warning of its own for these areas: "
                    "issued as a new warning"
                )
            self.issue(event, hazard, areas, note)

    def issue(self, event: Event, hazard: Hazard, areas: tuple[str, ...], note: str) -> None:
        assert event.level is not None and event.hazard is not None
        step = self.step(event, "alert", hazard, event.level, areas, (), note)
        self.chains.append(_Chain(step.alert_id, event.hazard, hazard, event.level, areas))

    def update(
        self, event: Event, hazard: Hazard, areas: tuple[str, ...], within: list[_Chain]
    ) -> None:
        assert event.level is not None
        primary, *merged = within
        note = ""
        if merged:
            absorbed = "; ".join(f"{c.level} for {', '.join(c.areas)}" for c in merged)
            note = f"replaces the {event.hazard} warnings it covers ({absorbed})"
        self.step(event, "update", hazard, event.level, areas, tuple(c.root for c in within), note)
        primary.level, primary.areas = event.level, areas
        self.chains = [c for c in self.chains if c not in merged]

    def cancel(self, event: Event, hazard: Hazard, within: list[_Chain]) -> None:
        if not within:
            self.skip(event, f"cancellation of a {event.hazard} warning that is not in force")
            return
        level = event.level or within[0].level
        areas = tuple(a for c in within for a in c.areas)
        areas = (CITYWIDE,) if CITYWIDE in areas else tuple(dict.fromkeys(areas))
        self.step(event, "cancel", hazard, level, areas, tuple(c.root for c in within), "")
        self.chains = [c for c in self.chains if c not in within]

    def step(
        self,
        event: Event,
        kind: str,
        hazard: Hazard,
        level: str,
        areas: tuple[str, ...],
        references: tuple[str, ...],
        note: str,
    ) -> Step:
        step = Step(
            at=event.at,
            alert_id=self.alert_id(f"e{event.index}"),
            kind=kind,
            hazard=hazard,
            level=level,
            areas=areas,
            references=references,
            headline=_headline(self.timeline, event),
            description=event.note,
            event=event,
            note=note,
        )
        self.steps.append(step)
        return step

    def skip(self, event: Event, reason: str) -> None:
        self.skipped.append(Skipped(event, reason))

    def closing(self, at: datetime) -> tuple[Step, ...]:
        return tuple(
            Step(
                at=at,
                alert_id=self.alert_id(f"c{n}"),
                kind="cancel",
                hazard=chain.hazard,
                level=chain.level,
                areas=chain.areas,
                references=(chain.root,),
                headline=f"[DRILL {self.timeline.slug}] end of replay: {chain.storm_hazard} lifted",
                description="The timeline records no cancellation; the drill lifts it at the end.",
                event=None,
                note="closing cancellation",
            )
            for n, chain in enumerate(self.chains)
        )


def map_area(name: str, plan: Plan) -> tuple[tuple[str, ...], str]:
    """Map one area name to area ids by the rules in the module docstring.

    Returns:
        The area ids (empty when the name is skipped) and, when skipped, the reason.
    """
    ids = resolve_areas(name, plan)
    if ids:
        return ids, ""
    key = normalise_name(name)
    if any(normalise_name(water) in key for water in WATER_BODIES):
        return (CITYWIDE,), ""
    if key in {normalise_name(n) for n in CENTRAL_NAMES}:
        return resolve_areas(CENTRAL_GROUP, plan), ""
    if _OFFSHORE.search(name):
        return (), "a sea area, not a district: skipped"
    return (), "not a Shanghai district, district group or water body: skipped"


def map_timeline(timeline: Timeline, plan: Plan, run_id: str = "0") -> DrillScript:
    """Derive the warnings to replay, the closing cancellations and the historical levels.

    Args:
        timeline: A loaded storm timeline.
        plan: The plan whose catalogue names the areas.
        run_id: Distinguishes one run's alert ids from another's.

    Returns:
        The drill script; nothing in it depends on anything but the arguments.
    """
    mapper = _Mapper(timeline, plan, run_id)
    for event in timeline.events:
        if event.kind is EventKind.WARNING:
            mapper.warning(event)
        elif event.kind is EventKind.RESPONSE:
            mapper.response(event)
    return DrillScript(
        timeline=timeline,
        run_id=run_id,
        steps=tuple(mapper.steps),
        closing=mapper.closing(timeline.end),
        skipped=tuple(mapper.skipped),
        historical=tuple(mapper.historical),
        hq_steps=tuple(mapper.hq_steps),
        hq_closing=mapper.hq_closing(timeline.end),
    )


def _within(inner: Iterable[str], outer: Iterable[str]) -> bool:
    """Whether every area of ``inner`` lies in ``outer`` (``citywide`` contains all)."""
    outer_set = set(outer)
    return CITYWIDE in outer_set or set(inner) <= outer_set


def _reason(timeline: Timeline, event: Event) -> str:
    """An HQ decision's reason: the entry's note (its source), or what the entry says."""
    said = f"[DRILL {timeline.slug}] HQ {event.action} {event.level or ''} as recorded".strip()
    text = f"{said}: {event.note}" if event.note else said
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _headline(timeline: Timeline, event: Event) -> str:
    areas = ", ".join(event.areas)
    what = f"{event.hazard} {event.action} {event.level or ''}".replace("  ", " ").strip()
    return f"[DRILL {timeline.slug}] {what} ({areas}), as at {event.at.isoformat()}"
