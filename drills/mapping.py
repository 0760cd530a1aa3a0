"""From a storm timeline to the warnings a drill sends, and the history it is compared with.

:func:`map_timeline` is pure. Each timed ``warning`` entry becomes at most one alert in the
documented JSON form (``docs/alerts.md``) with status ``exercise``, which the drill later sends
through the normal intake (``alerts.intake.parse_alert``, then ``workflows.starters.submit``).
``response`` entries become the headquarters' historical levels. Everything else (landfalls,
observations, untimed entries) is kept for the report. The rules (also in ``docs/drills.md``):

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

Ids are ``drill-<run>-<storm>-e<entry index>`` (``-c<n>`` for the closing cancellations), so
one run's alerts are stable and never collide with another run's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drills.timeline import Event, EventKind, StormHazard, Timeline, WarningAction
from plans.catalogue import canonical_areas, normalise_name, resolve_areas
from plans.model import CITYWIDE, Hazard, Plan
from plans.terms import parse_hazard

SENDER = "tidegate-drill"

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
        level = None if event.action == "end" else event.level
        for area in self.areas(event):
            self.historical.append(HistoricalLevel(event.at, area, level, event))

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
    )


def _within(inner: Iterable[str], outer: Iterable[str]) -> bool:
    """Whether every area of ``inner`` lies in ``outer`` (``citywide`` contains all)."""
    outer_set = set(outer)
    return CITYWIDE in outer_set or set(inner) <= outer_set


def _headline(timeline: Timeline, event: Event) -> str:
    areas = ", ".join(event.areas)
    what = f"{event.hazard} {event.action} {event.level or ''}".replace("  ", " ").strip()
    return f"[DRILL {timeline.slug}] {what} ({areas}), as at {event.at.isoformat()}"
