"""CAP 1.2 (OASIS Common Alerting Protocol) messages → :class:`~plans.warning.Alert`.

XML is parsed by ``defusedxml`` with DTDs, entity declarations and external references all
forbidden, so XXE, billion-laughs and external-DTD tricks are rejected before any expansion
happens; nesting depth and element count are bounded as well. Only UTF-8 documents are accepted.

The required elements of the CAP 1.2 schema are enforced with their enumerations, and the
``sent`` format of the spec (``2024-09-15T08:00:00+08:00``; no ``Z``). On top of the schema,
tidegate requires what it needs to act: at least one ``info`` block, ``references`` on Update
and Cancel, and a hazard and a level it can map. The mapping rules are in ``docs/alerts.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from alerts import fields, vocabulary
from alerts.errors import AlertRejected, RejectCode
from plans.catalogue import canonical_areas
from plans.model import Hazard, Level, Plan
from plans.terms import fold_term, severity_level
from plans.warning import Alert, Kind, Status

_T = TypeVar("_T")

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_DEPTH = 16
"""CAP nests five levels deep (alert/info/area/geocode/value); anything far deeper is hostile."""
MAX_ELEMENTS = 20_000

_STATUS = {"Actual": Status.ACTUAL, "Exercise": Status.EXERCISE, "Test": Status.TEST}
_NOT_WARNINGS = {
    "System": "status System is for alert-network housekeeping, not a warning",
    "Draft": "status Draft messages must not be sent to tidegate",
    "Ack": "msgType Ack acknowledges a message; it is not a warning",
    "Error": "msgType Error reports a rejected message; it is not a warning",
}
_KIND = {"Alert": Kind.ALERT, "Update": Kind.UPDATE, "Cancel": Kind.CANCEL}
_SCOPES = ("Public", "Restricted", "Private")
_CATEGORIES = (
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
    "CBRNE", "Other",
)  # fmt: skip
_URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
_SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
_CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
_CAP_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}"
)
_XML_DECL_ENCODING = re.compile(r"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")

# eventCode/parameter valueNames (folded by plans.terms.fold_term) and what their value holds;
# the values themselves are read with the plan's hazard and colour terms.
HAZARD_KEYS = ("hazard", "hazardtype", "warningtype", "signaltype", "预警类型", "灾种")
"""valueNames whose value is a hazard term."""
LEVEL_KEYS = (
    "level",
    "warninglevel",
    "alertlevel",
    "colour",
    "color",
    "signalcolour",
    "signalcolor",
    "预警级别",
    "预警颜色",
    "级别",
    "颜色",
)
"""valueNames whose value is a colour term."""
SIGNAL_KEYS = ("signal", "signalname", "event", "预警信号", "信号")
"""valueNames whose value is a whole signal name, read like ``event``."""


def parse_cap(text: str, plan: Plan) -> Alert:
    """Parse a CAP 1.2 ``<alert>`` into an :class:`Alert`.

    Args:
        text: The decoded payload (UTF-8 already checked by :func:`alerts.intake.parse_alert`),
            stored as ``raw``.
        plan: The plan whose catalogue names hazards, colours, areas and codes.

    Returns:
        The validated alert.

    Raises:
        AlertRejected: For forbidden XML, schema violations or unmappable content.
    """
    # Leading blank lines (common from relays) would make the XML declaration invalid.
    root = _parse_xml(text.lstrip())
    if root.tag != _q("alert"):
        raise AlertRejected(_root_problem(root.tag), field="alert")
    return _Alert(root, plan).build(text)


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _root_problem(tag: str) -> str:
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if local == "alert" and namespace.startswith("urn:oasis:names:tc:emergency:cap:"):
        return f"CAP version {namespace.rsplit(':', 1)[-1]} is not supported; send CAP 1.2"
    if local == "alert":
        return f"<alert> must be in the CAP 1.2 namespace {NAMESPACE}"
    return f"root element is <{local[:40]}>, expected a CAP 1.2 <alert>"


class _BoundedBuilder:
    """Tree builder that refuses absurd nesting or element counts while parsing, not after."""

    def __init__(self) -> None:
        self._builder = TreeBuilder()
        self._depth = 0
        self._count = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        self._count += 1
        if self._depth > MAX_DEPTH:
            raise AlertRejected(f"XML nests deeper than {MAX_DEPTH} levels", code=RejectCode.SYNTAX)
        if self._count > MAX_ELEMENTS:
            raise AlertRejected(f"XML has over {MAX_ELEMENTS} elements", code=RejectCode.SYNTAX)
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> Element:
        return self._builder.close()


def _parse_xml(text: str) -> Element:
    declared = _XML_DECL_ENCODING.match(text)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise AlertRejected(
            f"XML declares encoding {declared.group(1)[:40]!r}; only UTF-8 is accepted",
            code=RejectCode.ENCODING,
        )
    parser = DefusedXMLParser(
        target=_BoundedBuilder(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        # Feeding text, not bytes: the UTF-8 check is done, and expat then ignores the
        # declaration's spelling of it (it does not know "utf8" or "utf_8").
        parser.feed(text)
        root: Element = parser.close()
    except DefusedXmlException as exc:
        raise AlertRejected(f"forbidden XML construct: {exc!r}", code=RejectCode.SYNTAX) from None
    except ParseError as exc:
        raise AlertRejected(f"invalid XML: {exc}", code=RejectCode.SYNTAX) from None
    except ValueError as exc:  # expat refusing an encoding, for one
        raise AlertRejected(f"invalid XML: {exc}", code=RejectCode.SYNTAX) from None
    return root


def _children(parent: Element, name: str) -> list[Element]:
    found = parent.findall(_q(name))
    for child in found:
        if len(child):
            raise AlertRejected(f"<{name}> must hold text, not elements", field=name)
    return found


def _one(parent: Element, name: str, *, required: bool = True) -> str:
    """Text of a single-valued child element ('' if optional and absent)."""
    found = _children(parent, name)
    if len(found) > 1:
        raise AlertRejected(f"<{name}> appears {len(found)} times; CAP allows one", field=name)
    value = (found[0].text or "").strip() if found else ""
    if required and not value:
        problem = "is empty" if found else "is missing"
        raise AlertRejected(f"required CAP element <{name}> {problem}", field=name)
    return value


def _one_line(parent: Element, name: str, *, required: bool = True) -> str:
    """Like :func:`_one`, with runs of whitespace (including newlines) collapsed to a space."""
    return " ".join(_one(parent, name, required=required).split())


def _many(parent: Element, name: str) -> list[str]:
    return [(child.text or "").strip() for child in _children(parent, name)]


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise AlertRejected(f"{value[:40]!r} is not one of {', '.join(allowed)}", field=name)
    return value


def _time(value: str, name: str) -> datetime:
    if not _CAP_TIME.fullmatch(value):
        raise AlertRejected(
            f"{value[:60]!r} is not a CAP dateTime like 2024-09-15T08:00:00+08:00 "
            "(UTC is written -00:00, not Z)",
            field=name,
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AlertRejected(f"{value!r} is not a valid date and time", field=name) from None
    return fields.aware(moment, field=name, original=value)


def _pairs(parent: Element, name: str) -> list[tuple[str, str]]:
    """``eventCode``/``parameter``/``geocode`` children as (valueName, value) pairs."""
    pairs = []
    for element in parent.findall(_q(name)):
        pairs.append((_one(element, "valueName"), _one(element, "value")))
    return pairs


@dataclass
class _Reading:
    """What one ``info`` block says about hazard, level and areas."""

    language: str
    hazard: Hazard | None
    level: Level | None
    severity: str
    areas: list[str]
    headline: str
    description: str
    expires: datetime | None


class _Alert:
    """Walks one ``<alert>`` element; a class only to keep each step a small method."""

    def __init__(self, root: Element, plan: Plan) -> None:
        self.root = root
        self.plan = plan

    def build(self, text: str) -> Alert:
        root = self.root
        alert_id = fields.identifier(_one(root, "identifier"), field="identifier")
        sender = fields.identifier(_one(root, "sender"), field="sender")
        sent = _time(_one(root, "sent"), "sent")
        status = self._status()
        kind = self._kind()
        self._scope()
        refs = fields.references(
            self._references(),
            own_id=alert_id,
            kind_needs_them=kind != Kind.ALERT,
            field="references",
        )
        readings = [self._info(info) for info in root.findall(_q("info"))]
        if not readings:
            raise AlertRejected("tidegate needs at least one <info> block to act on", "info")
        expires = _agree([r.expires for r in readings if r.expires], "expires")
        fields.expiry_after_sent(sent, expires)
        preferred = _preferred(readings)
        return Alert(
            id=alert_id,
            sender=sender,
            sent=sent,
            status=status,
            kind=kind,
            references=refs,
            hazard=self._hazard(readings),
            level=self._level(readings),
            areas=self._areas(readings),
            headline=fields.line(preferred.headline, field="headline"),
            description=fields.text(preferred.description, field="description"),
            expires=expires,
            raw=text,
        )

    def _status(self) -> Status:
        value = _one(self.root, "status")
        if value in _NOT_WARNINGS:
            raise AlertRejected(_NOT_WARNINGS[value], field="status")
        return _STATUS[_choice(value, (*_STATUS, "System", "Draft"), "status")]

    def _kind(self) -> Kind:
        value = _one(self.root, "msgType")
        if value in _NOT_WARNINGS:
            raise AlertRejected(_NOT_WARNINGS[value], field="msgType")
        return _KIND[_choice(value, (*_KIND, "Ack", "Error"), "msgType")]

    def _scope(self) -> None:
        scope = _choice(_one(self.root, "scope"), _SCOPES, "scope")
        if scope == "Restricted":
            _one(self.root, "restriction")
        if scope == "Private":
            _one(self.root, "addresses")

    def _references(self) -> list[str]:
        value = _one(self.root, "references", required=False)
        ids = []
        for triple in value.split():
            parts = triple.split(",")
            if len(parts) != 3 or not all(parts):
                raise AlertRejected(
                    f"{triple[:80]!r} is not a 'sender,identifier,sent' triple", "references"
                )
            ids.append(fields.identifier(parts[1], field="references"))
        return ids

    def _info(self, info: Element) -> _Reading:
        categories = _many(info, "category")
        if not categories:
            raise AlertRejected("required CAP element <category> is missing", field="category")
        for category in categories:
            _choice(category, _CATEGORIES, "category")
        # XML pretty-printers wrap long text; a wrapped line is still one line.
        event = fields.line(_one_line(info, "event"), field="event")
        _choice(_one(info, "urgency"), _URGENCIES, "urgency")
        severity = _choice(_one(info, "severity"), _SEVERITIES, "severity")
        _choice(_one(info, "certainty"), _CERTAINTIES, "certainty")
        pairs = _pairs(info, "eventCode") + _pairs(info, "parameter")
        hazard, level = _signal(event, pairs, self.plan)
        expires = _one(info, "expires", required=False)
        return _Reading(
            language=_one(info, "language", required=False) or "en-US",
            hazard=hazard,
            level=level,
            severity=severity,
            areas=[
                area for element in info.findall(_q("area")) for area in _area(element, self.plan)
            ],
            headline=_one_line(info, "headline", required=False) or event,
            description=_one(info, "description", required=False),
            expires=_time(expires, "expires") if expires else None,
        )

    def _hazard(self, readings: list[_Reading]) -> Hazard:
        hazard = _agree([r.hazard for r in readings if r.hazard], "hazard")
        if hazard is None:
            events = ", ".join(repr(e) for e in _many_events(self.root))
            raise AlertRejected(
                f"cannot tell the hazard from event {events}, eventCode or parameter", "event"
            )
        return hazard

    def _level(self, readings: list[_Reading]) -> Level:
        level = _agree([r.level for r in readings if r.level], "level")
        if level is not None:
            return level
        # No colour anywhere: only then does CAP severity decide (Minor → blue ... Extreme → red).
        severity = _agree([r.severity for r in readings], "severity")
        level = severity_level(severity, self.plan) if severity is not None else None
        if level is None:
            raise AlertRejected(
                f"no colour in event, eventCode or parameter, and severity {severity} gives no "
                "level",
                field="severity",
            )
        return level

    def _areas(self, readings: list[_Reading]) -> tuple[str, ...]:
        found = [area for r in readings for area in r.areas]
        if not found:
            raise AlertRejected("no <area> in any <info> block; tidegate must know where", "area")
        return canonical_areas(found, self.plan)


def _signal(
    event: str, pairs: list[tuple[str, str]], plan: Plan
) -> tuple[Hazard | None, Level | None]:
    """Hazard and level of one info block: eventCode/parameter values, then the event name."""
    hazards: list[tuple[Hazard, str]] = []
    levels: list[tuple[Level, str]] = []
    for name, value in pairs:
        key = fold_term(name)
        if key in HAZARD_KEYS:
            hazards.append((vocabulary.hazard(value, plan, field="eventCode"), f"{name}={value}"))
        elif key in LEVEL_KEYS:
            levels.append((vocabulary.level(value, plan, field="eventCode"), f"{name}={value}"))
        elif key in SIGNAL_KEYS:
            hazard, level = vocabulary.signal(value, plan, field="eventCode")
            if hazard:
                hazards.append((hazard, f"{name}={value}"))
            if level:
                levels.append((level, f"{name}={value}"))
    hazard, level = vocabulary.signal(event, plan, field="event")
    if hazard:
        hazards.append((hazard, f"event {event}"))
    if level:
        levels.append((level, f"event {event}"))
    return _consistent(hazards, "hazard"), _consistent(levels, "level")


def _consistent(found: list[tuple[_T, str]], what: str) -> _T | None:
    distinct = list(dict.fromkeys(value for value, _ in found))
    if len(distinct) > 1:
        sources = "; ".join(f"{source!r} → {value}" for value, source in found)
        raise AlertRejected(f"conflicting {what}: {sources}", field=what)
    return distinct[0] if distinct else None


def _agree(values: list[_T], what: str) -> _T | None:
    """All ``info`` blocks describe one warning, so whatever they state must match."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) > 1:
        listed = ", ".join(str(v) for v in distinct)
        raise AlertRejected(f"<info> blocks disagree on {what}: {listed}", field=what)
    return distinct[0] if distinct else None


def _many_events(root: Element) -> list[str]:
    return [(e.text or "").strip()[:80] for e in root.iter(_q("event"))]


def _preferred(readings: list[_Reading]) -> _Reading:
    """Headline and description come from the Chinese block if there is one, else the first."""
    for reading in readings:
        if reading.language.lower().startswith("zh"):
            return reading
    return readings[0]


def _area(element: Element, plan: Plan) -> tuple[str, ...]:
    """Area ids of one ``<area>``: the plan's geocodes if it has any, else its areaDesc."""
    description = _one(element, "areaDesc")
    codes = [vocabulary.geocode(value, plan) for _, value in _pairs(element, "geocode")]
    known = [code for code in codes if code is not None]
    if known:
        return canonical_areas(known, plan)
    return vocabulary.areas([description], plan, field="areaDesc")
