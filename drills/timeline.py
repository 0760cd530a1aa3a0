"""Storm timelines: the YAML format of ``drills/storms/README.md``, read strictly.

A timeline lists what happened during one historical storm, with times: warnings (typhoon,
rainstorm, gale, tide, flood, and the wave and lightning signals tidegate does not act on), the
flood-control headquarters' response levels, landfalls and observations. ``load_timeline`` turns
a file into frozen dataclasses or raises :class:`TimelineError` listing every problem, each
naming the file, line, entry (``events[3] (at 2021-07-24T13:00+08:00)``) and field.

Rules beyond the README's schema (also in ``docs/drills.md``):

* ``at`` is ISO 8601; a time without an offset is read in the timeline's ``timezone``.
* Events must be in time order (equal times keep their file order): an entry earlier than the
  one before it is almost always a typo in the date, so it is an error, not silently sorted.
* Warnings need ``hazard``, ``action``, ``areas`` and (except cancellations) ``level``;
  responses need ``action``, ``areas`` and (except ``end``) ``level``. Landfalls and
  observations need nothing beyond ``at`` and ``kind``.
* Untimed events need ``date`` and ``kind``; everything else is optional because they are kept
  for the record only and never replayed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plans.errors import Problem
from plans.yamlread import Field, Record, read_document

STORMS_DIR = Path(__file__).resolve().parent / "storms"
"""The bundled timelines, one YAML file per storm."""


class EventKind(StrEnum):
    """What a timeline entry records."""

    WARNING = "warning"
    RESPONSE = "response"
    LANDFALL = "landfall"
    OBSERVATION = "observation"


class StormHazard(StrEnum):
    """Hazards as timelines name them (tidegate maps typhoon and gale to wind)."""

    TYPHOON = "typhoon"
    GALE = "gale"
    RAINSTORM = "rainstorm"
    TIDE = "tide"
    FLOOD = "flood"
    WAVE = "wave"
    LIGHTNING = "lightning"


class WarningAction(StrEnum):
    """What a warning entry does to the signal of its hazard and areas."""

    ISSUE = "issue"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    CANCEL = "cancel"


class ResponseAction(StrEnum):
    """What a headquarters response entry does."""

    START = "start"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    END = "end"


class Colour(StrEnum):
    """Warning colours, lowest first."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


class HqLevel(StrEnum):
    """Headquarters response levels, lowest first."""

    IV = "IV"
    III = "III"
    II = "II"
    I = "I"  # noqa: E741 - the official name of the highest response level


class Confidence(StrEnum):
    """How well sources support an entry (rubric in ``drills/storms/README.md``)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Event:
    """One timed entry of a timeline."""

    index: int
    """Position in ``events`` (0-based), used to name the entry in messages."""
    at: datetime
    """When it happened; timezone-aware."""
    kind: EventKind
    hazard: StormHazard | None
    action: str | None
    """A ``WarningAction`` value for warnings, a ``ResponseAction`` value for responses."""
    level: str | None
    """A ``Colour`` value for warnings, an ``HqLevel`` value for responses."""
    areas: tuple[str, ...]
    """Area names as the sources give them (districts, ``citywide``, rivers, sea areas)."""
    note: str = ""
    confidence: Confidence | None = None

    @property
    def label(self) -> str:
        """How messages name this entry: ``events[3] (at 2021-07-24T13:00:00+08:00)``."""
        return f"events[{self.index}] (at {self.at.isoformat()})"


@dataclass(frozen=True)
class UntimedEvent:
    """A fact with a date but no time: kept for the record, never replayed."""

    index: int
    date: date
    kind: EventKind
    hazard: StormHazard | None = None
    action: str | None = None
    level: str | None = None
    areas: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Timeline:
    """One storm, as its YAML file describes it."""

    slug: str
    """File name without ``.yaml`` (e.g. ``2021-in-fa``); names drills and reports."""
    name: str
    timezone: str
    """IANA zone of the storm's local time, e.g. ``Asia/Shanghai``."""
    events: tuple[Event, ...]
    """Timed entries in time order."""
    name_zh: str = ""
    year: int | None = None
    summary: str = ""
    sources: tuple[str, ...] = ()
    untimed_events: tuple[UntimedEvent, ...] = ()
    notes: tuple[str, ...] = ()
    path: str = ""

    @property
    def start(self) -> datetime:
        """Time of the first event."""
        return self.events[0].at

    @property
    def end(self) -> datetime:
        """Time of the last event."""
        return self.events[-1].at


class TimelineError(ValueError):
    """A timeline failed validation; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"invalid storm timeline: {len(problems)} error(s)\n{shown}{more}")


_TOP_REQUIRED = ("name", "timezone", "events")
_TOP_OPTIONAL = ("name_zh", "year", "summary", "sources", "untimed_events", "notes")
_EVENT_REQUIRED = ("at", "kind")
_FIELDS = ("hazard", "action", "level", "areas", "note", "confidence")
_ENTRY = re.compile(r"^events\[(\d+)\]")


def bundled_storms() -> list[str]:
    """Slugs of the timelines shipped in ``drills/storms``, sorted."""
    return sorted(p.stem for p in STORMS_DIR.glob("*.yaml"))


def find_storm(name_or_path: str) -> Path:
    """Resolve a bundled storm (slug, or a unique part of one such as ``in-fa``) or a path.

    Raises:
        TimelineError: Nothing, or more than one bundled storm, matches.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise TimelineError([Problem(name_or_path, 0, "", "no such file")])
        return path
    slugs = bundled_storms()
    wanted = name_or_path.strip().lower()
    matches = [s for s in slugs if s == wanted] or [s for s in slugs if wanted in s]
    if len(matches) != 1:
        found = f"it matches {', '.join(matches)}" if matches else "nothing matches"
        raise TimelineError(
            [
                Problem(
                    name_or_path,
                    0,
                    "",
                    f"not a file and not one bundled storm ({found}); bundled: {', '.join(slugs)}",
                )
            ]
        )
    return STORMS_DIR / f"{matches[0]}.yaml"


def load_timeline(name_or_path: str | Path) -> Timeline:
    """Read and validate a storm timeline.

    Args:
        name_or_path: A bundled storm's slug (or a unique part of it), or a YAML file path.

    Returns:
        The timeline, events in time order.

    Raises:
        TimelineError: The file is missing, is not valid YAML, or breaks the format; every
            problem is listed with its line, entry and field.
    """
    path = find_storm(str(name_or_path))
    problems: list[Problem] = []
    root = read_document(path, str(path), problems)
    timeline = None if root is None else _Reader(path, problems).timeline(root)
    if problems or timeline is None:
        raise TimelineError(problems or [Problem(str(path), 0, "", "no timeline")])
    return timeline


class _Reader:
    """Builds a :class:`Timeline` from a root field, reporting into ``problems``."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        self.zone: ZoneInfo | None = None
        self.labels: dict[int, str] = {}

    def timeline(self, root: Field) -> Timeline | None:
        top = root.mapping(_TOP_REQUIRED, _TOP_OPTIONAL)
        if top is None:
            return None
        name = top.text("name")
        self.zone = self._zone(top.get("timezone"))
        events = self._events(top)
        untimed = tuple(
            u for i, f in enumerate(top.sequence("untimed_events")) if (u := _untimed(i, f))
        )
        year = top.integer("year", 1900, 2200)
        self._name_entries()
        if name is None or self.zone is None or self.problems:
            return None
        return Timeline(
            slug=self.path.stem,
            name=name,
            timezone=str(self.zone.key),
            events=events,
            name_zh=top.text("name_zh") or "",
            year=year,
            summary=top.text("summary") or "",
            sources=tuple(top.texts("sources")),
            untimed_events=untimed,
            notes=tuple(top.texts("notes")),
            path=str(self.path),
        )

    def _zone(self, field: Field | None) -> ZoneInfo | None:
        if field is None:
            return None
        name = field.text(what="an IANA time zone such as Asia/Shanghai")
        if name is None:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            field.fail(f"{name!r} is not an IANA time zone such as Asia/Shanghai")
            return None

    def _events(self, top: Record) -> tuple[Event, ...]:
        fields = top.sequence("events")
        if "events" in top and not fields and isinstance(top["events"].node.value, list):
            top["events"].fail("a timeline needs at least one timed event")
        events: list[Event] = []
        for index, field in enumerate(fields):
            event = self._event(index, field)
            if event is None:
                continue
            if events and event.at < events[-1].at:
                field.fail(
                    f"out of order: {event.at.isoformat()} is earlier than "
                    f"{events[-1].label}; events must be in time order"
                )
            events.append(event)
        return tuple(events)

    def _event(self, index: int, field: Field) -> Event | None:
        record = field.mapping(_EVENT_REQUIRED, _FIELDS)
        if record is None:
            return None
        at = self._time(record.get("at"))
        if at is not None:
            self.labels[index] = at.isoformat()
        kind = record.choice("kind", EventKind)
        hazard = record.choice("hazard", StormHazard)
        areas = tuple(record.texts("areas"))
        action, level = _action_level(record, kind)
        if kind is EventKind.WARNING or kind is EventKind.RESPONSE:
            final = "cancels" if kind is EventKind.WARNING else "ends"
            needed = ["action", "areas"] + (["hazard"] if kind is EventKind.WARNING else [])
            for key in needed:
                if key not in record:
                    field.fail(f"a {kind} needs {key!r}")
            if "level" not in record and record.text("action") not in ("cancel", "end"):
                field.fail(f"a {kind} needs 'level' unless it {final}")
        if at is None or kind is None:
            return None
        return Event(
            index=index,
            at=at,
            kind=kind,
            hazard=hazard,
            action=action,
            level=level,
            areas=areas,
            note=record.text("note") or "",
            confidence=record.choice("confidence", Confidence),
        )

    def _time(self, field: Field | None) -> datetime | None:
        if field is None:
            return None
        text = field.text(what="an ISO 8601 time such as 2021-07-23T07:00+08:00")
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            field.fail(f"{text!r} is not an ISO 8601 time such as 2021-07-23T07:00+08:00")
            return None
        if moment.tzinfo is None:
            if self.zone is None:
                field.fail(f"{text!r} has no offset and the timeline has no valid timezone")
                return None
            moment = moment.replace(tzinfo=self.zone)
        return moment

    def _name_entries(self) -> None:
        """Put each event's time beside its index, so errors name the entry unambiguously."""
        for i, problem in enumerate(self.problems):
            match = _ENTRY.match(problem.field)
            if match is None or int(match.group(1)) not in self.labels:
                continue
            at = self.labels[int(match.group(1))]
            field = f"{match.group(0)} (at {at}){problem.field[match.end() :]}"
            self.problems[i] = Problem(problem.file, problem.line, field, problem.message)


def _action_level(record: Record, kind: EventKind | None) -> tuple[str | None, str | None]:
    """Read ``action`` and ``level`` in the vocabulary of the entry's kind."""
    if kind is EventKind.WARNING:
        return record.choice("action", WarningAction), record.choice("level", Colour)
    if kind is EventKind.RESPONSE:
        return record.choice("action", ResponseAction), record.choice("level", HqLevel)
    return record.text("action"), record.text("level")


def _untimed(index: int, field: Field) -> UntimedEvent | None:
    record = field.mapping(("date", "kind"), _FIELDS)
    if record is None:
        return None
    day: date | None = None
    text = record.text("date", what="a date such as 2021-07-24")
    if text is not None:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            record["date"].fail(f"{text!r} is not a date such as 2021-07-24")
    kind = record.choice("kind", EventKind)
    hazard = record.choice("hazard", StormHazard)
    if day is None or kind is None:
        return None
    return UntimedEvent(
        index=index,
        date=day,
        kind=kind,
        hazard=hazard,
        action=record.text("action"),
        level=record.text("level"),
        areas=tuple(record.texts("areas")),
        note=record.text("note") or "",
    )
