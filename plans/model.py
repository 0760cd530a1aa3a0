"""Domain types shared by the plan loader, the plan logic, alert intake and the workflows.

Everything here is a frozen dataclass or a string enum built from tuples and plain values, so
that it round-trips through Temporal's default JSON data converter unchanged and can be passed
as workflow input (a running response pins the plan it started with).

Sections: warnings and levels; tasks, notices, responses and diffs; the catalogue (the city,
districts, hazard and colour terms, agencies, assets); the plan itself (``Plan`` and its
actions, notices and rules).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeVar

CITYWIDE = "citywide"
"""Area id of the whole city; every other area id is a district id such as ``pudong``."""


class Hazard(StrEnum):
    """Hazards tidegate acts on. Typhoon and gale warnings are both ``wind``."""

    WIND = "wind"
    RAINSTORM = "rainstorm"
    TIDE = "tide"
    FLOOD = "flood"


class Level(StrEnum):
    """Warning colour: blue (IV) is the lowest, red (I) the highest."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        """1 for blue up to 4 for red, so levels compare by severity."""
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.BLUE: 1, Level.YELLOW: 2, Level.ORANGE: 3, Level.RED: 4}


class ResponseLevel(StrEnum):
    """Emergency response level (应急响应). IV is the lowest, I the highest."""

    IV = "IV"
    III = "III"
    II = "II"
    I = "I"  # noqa: E741 - the official name of the highest response level

    @property
    def rank(self) -> int:
        """1 for IV up to 4 for I, so response levels compare by severity."""
        return _RESPONSE_RANK[self]


_RESPONSE_RANK = {
    ResponseLevel.IV: 1,
    ResponseLevel.III: 2,
    ResponseLevel.II: 3,
    ResponseLevel.I: 4,
}


@dataclass(frozen=True)
class ActiveWarning:
    """A warning in force, reduced to what the plan needs to decide the response.

    ``areas`` holds canonical area ids (``citywide`` or district ids), already mapped from
    whatever names the issuer used; ``alerts/`` does that mapping.
    """

    hazard: Hazard
    level: Level
    areas: tuple[str, ...]


RESPONSE_LEVELS: tuple[ResponseLevel, ...] = (
    ResponseLevel.IV,
    ResponseLevel.III,
    ResponseLevel.II,
    ResponseLevel.I,
)
"""Response levels from the lowest (IV) to the highest (I); index + 1 is the rank."""

LEVELS: tuple[Level, ...] = (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED)
"""Warning colours from the lowest (blue) to the highest (red); index + 1 is the rank."""


def raise_level(level: ResponseLevel, steps: int) -> ResponseLevel:
    """Return ``level`` raised by ``steps`` response levels, capped at level I.

    Args:
        level: The level to raise.
        steps: How many levels to raise it by (0 or more).

    Returns:
        The raised level; never above ``ResponseLevel.I``.
    """
    return RESPONSE_LEVELS[min(level.rank - 1 + max(steps, 0), len(RESPONSE_LEVELS) - 1)]


class StandDown(StrEnum):
    """What happens to a dispatched task when a downgrade or cancellation no longer requires it."""

    STAND_DOWN = "stand_down"
    """Tell the agency to stop: the task is withdrawn."""
    KEEP = "keep"
    """Let the agency finish: the task stays open until it is reported done."""


class EscalationKind(StrEnum):
    """The three supervision slips of '三单联动', in escalating order."""

    REMINDER = "reminder"
    """提醒单: a reminder to the agency itself."""
    SUPERVISION = "supervision"
    """督办单: a supervision notice to the headquarters above the agency."""
    WARNING = "warning"
    """警示单: a warning notice to the city headquarters."""


class Recipient(StrEnum):
    """Who receives an escalation step."""

    AGENCY = "agency"
    """The agency that owns the task."""
    DISTRICT_HQ = "district_hq"
    """The flood-control headquarters (区防汛指挥部) of the task's district."""
    CITY_HQ = "city_hq"
    """The city flood-control headquarters (市防汛指挥部) and its office."""


@dataclass(frozen=True)
class EscalationStep:
    """One step of a task's escalation chain, taken while the task is unacknowledged."""

    after_minutes: int
    """Minutes after the task was dispatched; steps of one chain strictly increase."""
    kind: str
    """Which slip is sent: an ``EscalationKind`` value (reminder, supervision or warning)."""
    to: str
    """Who receives it: a ``Recipient`` value (agency, district_hq or city_hq)."""


class Audience(StrEnum):
    """Who a notice is written for."""

    PUBLIC = "public"
    """The general public (media, public screens, 上海发布)."""
    TRANSPORT = "transport"
    """Passengers of metro, bus, ferry, airport and railway services."""


@dataclass(frozen=True)
class PlanRef:
    """Which plan, and which exact content of it, produced a decision."""

    plan_id: str
    """Stable identifier of the plan, e.g. ``shanghai``."""
    version: str
    """The version the plan's authors gave it, e.g. ``2025.1``."""
    content_hash: str
    """SHA-256 of the plan's canonical content, 64 lowercase hex digits."""


@dataclass(frozen=True)
class Task:
    """One thing one agency must do in one area (and possibly at one asset).

    A task's content is determined by the plan and the active warnings; its ``id`` is determined
    by the action, area and asset alone, so the same inputs always give the same ids.
    """

    id: str
    """Deterministic id: ``<action_id>@<area>`` or ``<action_id>@<area>/<asset>``."""
    action_id: str
    """The plan action this task comes from, ``<agency>.<name>`` (e.g. ``drainage.prelower``)."""
    agency: str
    """Agency id; tasks go to Kafka topic ``tidegate.tasks.<agency>``."""
    area: str
    """District id, or ``citywide`` for tasks of city-level agencies."""
    asset: str | None
    """Asset id for per-asset actions (pumping station, waterlogging point, drainage team)."""
    hazard: Hazard
    """The first hazard in the action's list that is active in the area."""
    response_level: ResponseLevel
    """The lowest response level at which the plan makes this task due."""
    deadline_minutes: int
    """Minutes after dispatch by which the task must be done."""
    ack_timeout_minutes: int
    """Minutes after dispatch by which the agency must acknowledge it."""
    escalation: tuple[EscalationStep, ...]
    """What happens while the task stays unacknowledged, in order."""
    on_stand_down: StandDown
    """Whether a downgrade or cancellation stands the task down or lets it finish."""


@dataclass(frozen=True)
class Notice:
    """A message for the public or for passengers, issued when an area's response level is set.

    Its ``id`` names the area and the response level, so each new level gives a new notice.
    """

    id: str
    """Deterministic id ``<spec_id>@<area>/<level>``, e.g. ``media.public-release@citywide/II``."""
    spec_id: str
    """The plan's notice definition this notice comes from."""
    agency: str
    """Agency that publishes it."""
    audience: Audience
    """Public or transport passengers."""
    area: str
    """``citywide``, or a district whose response differs from the city's."""
    hazard: Hazard
    """The first hazard in the notice definition's list that is active in the area."""
    response_level: ResponseLevel
    """The area's response level the notice announces."""
    deadline_minutes: int
    """Minutes after the level is set by which the notice must be public (30 in Shanghai)."""


@dataclass(frozen=True)
class Response:
    """What the plan requires for a set of active warnings."""

    levels: dict[str, ResponseLevel]
    """Area id to response level; areas without a response are omitted. ``citywide`` is present
    when the city itself responds; a district is never below the city."""
    tasks: tuple[Task, ...]
    """Every task due, sorted by id."""
    notices: tuple[Notice, ...]
    """Every notice in force, sorted by id."""
    plan: PlanRef
    """The plan (and version) that produced this response."""
    automatic: dict[str, ResponseLevel] = field(default_factory=dict)
    """The levels the signals alone give, whenever an HQ declaration is in force (empty
    otherwise): beside ``levels`` it reads "automatic III, HQ holds IV"."""


@dataclass(frozen=True)
class LevelChange:
    """An area whose response level differs between two responses."""

    area: str
    """Area id."""
    before: ResponseLevel | None
    """Level before; ``None`` when the area had no response (a start)."""
    after: ResponseLevel | None
    """Level after; ``None`` when the response ended."""


@dataclass(frozen=True)
class Diff:
    """How to get from one response to the next.

    Applying it (``plans.rules.apply_diff``) to the earlier response yields the later one.
    """

    dispatch: tuple[Task, ...]
    """New tasks to send, sorted by id."""
    stand_down: tuple[Task, ...]
    """Tasks no longer required whose action says ``stand_down``: withdraw them."""
    keep: tuple[Task, ...]
    """Tasks no longer required whose action says ``keep``: let them finish."""
    update: tuple[Task, ...]
    """Tasks still required whose details changed (hazard, or the plan's deadlines after a plan
    change); record the new details, do not send them again."""
    notices: tuple[Notice, ...]
    """Notices to publish: new, or changed under the same id."""
    retired_notices: tuple[Notice, ...]
    """Notices no longer in force (the level changed or the response ended)."""
    level_changes: tuple[LevelChange, ...]
    """Areas whose response level changed, started or ended, sorted by area id."""
    plan: PlanRef
    """The plan of the later response."""

    @property
    def is_empty(self) -> bool:
        """True when nothing changes."""
        return not (
            self.dispatch
            or self.stand_down
            or self.keep
            or self.update
            or self.notices
            or self.retired_notices
            or self.level_changes
        )


# --- catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    """One of Shanghai's 16 districts (市辖区), or the city itself (id ``citywide``)."""

    id: str
    """Lowercase ASCII id, e.g. ``pudong``; ``[a-z0-9-]+``."""
    zh: str
    """Official Chinese name, e.g. ``浦东新区``."""
    en: str
    """English name, e.g. ``Pudong New Area``."""
    aliases: tuple[str, ...] = ()
    """Other names that ``resolve_areas`` accepts, e.g. ``浦东``, ``Pudong``, former names."""
    codes: tuple[str, ...] = ()
    """GB/T 2260 division codes (six digits) that name the area, former ones included."""


@dataclass(frozen=True)
class City:
    """The city's own names (``上海市``, ``Shanghai``).

    Alone they mean the whole city; beside district names they only qualify them
    (``上海市浦东新区``, "Pudong, Shanghai").
    """

    zh: str
    """Chinese name, e.g. ``上海市``."""
    en: str
    """English name, e.g. ``Shanghai``; messages name the city by it."""
    aliases: tuple[str, ...] = ()
    """Other names of the city, e.g. ``上海``, ``Shanghai City``."""


@dataclass(frozen=True)
class AreaGroup:
    """A named set of districts (e.g. the coastal ones), usable wherever districts are listed."""

    id: str
    """Group id, e.g. ``coastal``; distinct from every district id."""
    zh: str
    """Chinese name, e.g. ``沿海区``."""
    en: str
    """English name."""
    districts: tuple[str, ...]
    """District ids in the group, in catalogue order."""


@dataclass(frozen=True)
class Agency:
    """An agency (or family of agencies) that receives tasks."""

    id: str
    """Agency id, ``[a-z0-9-]+``; tasks go to Kafka topic ``tidegate.tasks.<id>``."""
    zh: str
    """Chinese name."""
    en: str
    """English name."""


@dataclass(frozen=True)
class HazardTerms:
    """How issuers name one hazard, in every language the plan reads."""

    hazard: Hazard
    """The hazard; its id (``wind``) is always a term too."""
    terms: tuple[str, ...]
    """Whole terms: a JSON ``hazard``, a CAP ``eventCode``/``parameter`` value, ``plan explain``
    (``typhoon``, ``台风``, ``storm surge``...)."""
    signal_words: tuple[str, ...]
    """Words that name the hazard inside a signal name (``暴雨橙色预警``, "Typhoon Blue
    Warning"): Chinese words match as substrings, English words as whole words."""


@dataclass(frozen=True)
class LevelTerms:
    """How issuers name one warning colour."""

    level: Level
    """The colour; its id (``orange``) is always a term too."""
    terms: tuple[str, ...]
    """Whole terms (``橙色``, ``橙``, ``II``, ``II级``...), read like ``HazardTerms.terms``."""
    signal_words: tuple[str, ...]
    """Words that name the colour inside a signal name, read like ``HazardTerms.signal_words``."""
    cap_severity: str | None
    """The CAP ``severity`` read as this colour when a message names no colour at all."""


class AssetKind(StrEnum):
    """Kinds of listed asset a task can target."""

    PUMPING_STATION = "pumping_station"
    """排水泵站: a drainage pumping station."""
    WATERLOGGING_POINT = "waterlogging_point"
    """易积水点: a known waterlogging point (road section, underpass, estate)."""
    DRAINAGE_TEAM = "drainage_team"
    """防汛排水突击队: a rapid-response drainage team with a mobile pump truck."""


@dataclass(frozen=True)
class Asset:
    """A listed asset in one district."""

    id: str
    """Asset id, ``[a-z0-9-]+``, unique in the plan."""
    kind: AssetKind
    """What kind of asset it is."""
    district: str
    """District id the asset lies in."""
    zh: str
    """Chinese name."""
    en: str
    """English name."""
    source: str = ""
    """Where the asset comes from: a citation, or ``invented`` for sample data."""


# --- the plan -------------------------------------------------------------------------------


class Scope(StrEnum):
    """Where an action applies, i.e. how many tasks it gives."""

    CITYWIDE = "citywide"
    """One task for the city, when the city itself responds."""
    DISTRICT = "district"
    """One task per responding district."""
    ASSET = "asset"
    """One task per listed asset of the action's ``asset_kind`` in each responding district."""


@dataclass(frozen=True)
class HazardResponse:
    """Which response level each warning colour of one hazard triggers."""

    hazard: Hazard
    """The hazard."""
    blue: ResponseLevel
    """Response level for a blue (IV) warning."""
    yellow: ResponseLevel
    """Response level for a yellow (III) warning."""
    orange: ResponseLevel
    """Response level for an orange (II) warning."""
    red: ResponseLevel
    """Response level for a red (I) warning."""

    def response_for(self, level: Level) -> ResponseLevel:
        """Return the response level a warning of this colour triggers."""
        return {
            Level.BLUE: self.blue,
            Level.YELLOW: self.yellow,
            Level.ORANGE: self.orange,
            Level.RED: self.red,
        }[level]


@dataclass(frozen=True)
class HazardLevel:
    """A hazard and a warning colour: a compound rule's condition (in force at this colour or
    above), or what is in force in an area."""

    hazard: Hazard
    """The hazard."""
    level: Level
    """The warning colour."""


@dataclass(frozen=True)
class CompoundRule:
    """Raises an area's response level when several hazards coincide (e.g. '三碰头')."""

    id: str
    """Rule id, ``[a-z0-9-]+``."""
    zh: str
    """Chinese name, e.g. ``三碰头``."""
    en: str
    """English name."""
    when: tuple[HazardLevel, ...]
    """Every condition must hold in the area (at least two)."""
    raise_by: int
    """Raise the area's level by this many steps (0 to 3), capped at level I."""
    at_least: ResponseLevel | None
    """Raise the area's level to at least this level; ``None`` for no floor."""
    districts: tuple[str, ...]
    """Districts the rule applies to; empty means every district and the city."""


@dataclass(frozen=True)
class Action:
    """One duty of one agency, due from a response level for some hazards."""

    id: str
    """``<agency>.<name>``, e.g. ``drainage.prelower``; stable across plan versions."""
    agency: str
    """Agency id."""
    zh: str
    """Short Chinese title."""
    en: str
    """Short English title."""
    level: ResponseLevel
    """The lowest response level at which the action is due; higher levels keep it."""
    hazards: tuple[Hazard, ...]
    """Hazards that make it relevant, in order of precedence; at least one must be active in
    the area. The first active one becomes the task's ``hazard``."""
    min_warning: Level | None
    """If set, one of the action's hazards must be in force at this colour or above (e.g. class
    suspension follows a red typhoon or rainstorm signal, not any level I response)."""
    scope: Scope
    """Citywide, per district or per asset."""
    asset_kind: AssetKind | None
    """For ``scope: asset``, which kind of asset; otherwise ``None``."""
    districts: tuple[str, ...]
    """Districts where the action applies (groups expanded); empty means all."""
    deadline_minutes: int
    """Minutes after dispatch by which the task must be done."""
    ack_timeout_minutes: int
    """Minutes after dispatch by which the agency must acknowledge; less than the deadline."""
    escalation: tuple[EscalationStep, ...]
    """Escalation chain with absolute minutes after dispatch."""
    escalation_policy: str
    """Name of the policy the chain was built from (for review and diffs)."""
    on_stand_down: StandDown
    """What a downgrade or cancellation does to the task."""
    params: dict[str, str]
    """Named values the templates use (e.g. ``closure_depth_cm: "25"``)."""
    instructions: dict[str, str]
    """Instruction template source per language."""


@dataclass(frozen=True)
class NoticeSpec:
    """A public or passenger notice issued when an area's response level is set."""

    id: str
    """``<agency>.<name>``, e.g. ``media.public-release``."""
    agency: str
    """Agency that publishes it."""
    audience: Audience
    """Public or transport passengers."""
    zh: str
    """Short Chinese title."""
    en: str
    """Short English title."""
    level: ResponseLevel
    """The lowest response level at which it is issued."""
    hazards: tuple[Hazard, ...]
    """Hazards it is issued for, in order of precedence."""
    deadline_minutes: int
    """Minutes after the level is set by which it must be public."""
    templates: dict[str, str]
    """Notice template source per language."""


@dataclass(frozen=True)
class Plan:
    """A complete, validated response plan. Load one with ``plans.loader.load_plan``."""

    plan_id: str
    """Stable identifier, ``[a-z0-9-]+``."""
    version: str
    """Version the authors gave this content."""
    content_hash: str
    """SHA-256 of the canonical content, 64 hex digits (see ``compute_content_hash``)."""
    zh: str
    """Chinese title of the plan."""
    en: str
    """English title of the plan."""
    languages: tuple[str, ...]
    """Languages every template must exist in, e.g. ``("zh", "en")``."""
    citywide: District
    """The city as an area: id ``citywide``, its names, aliases and codes."""
    districts: tuple[District, ...]
    """Districts in catalogue order."""
    groups: tuple[AreaGroup, ...]
    """Named groups of districts."""
    agencies: tuple[Agency, ...]
    """Agencies in catalogue order."""
    assets: tuple[Asset, ...]
    """Listed assets."""
    hazards: tuple[HazardResponse, ...]
    """Warning colour to response level, one entry per hazard, in ``Hazard`` order."""
    compound_rules: tuple[CompoundRule, ...]
    """Rules raising the level when hazards coincide."""
    actions: tuple[Action, ...]
    """Every action, sorted by id."""
    notices: tuple[NoticeSpec, ...]
    """Every notice definition, sorted by id."""
    escalation_messages: dict[str, dict[str, str]]
    """Escalation kind (``reminder``, ``supervision``, ``warning``) to template per language."""
    # The vocabulary below has defaults only so that plans pinned by responses started before it
    # was part of the plan still load from their history; the loader always fills it, and
    # nothing resolves names against a pinned plan.
    city: City = City("", "")
    """The city's own names."""
    hazard_terms: tuple[HazardTerms, ...] = ()
    """How issuers name each hazard, in ``Hazard`` order."""
    level_terms: tuple[LevelTerms, ...] = ()
    """How issuers name each warning colour, blue first."""

    @property
    def ref(self) -> PlanRef:
        """The plan's id, version and content hash, for recording which plan ran."""
        return PlanRef(plan_id=self.plan_id, version=self.version, content_hash=self.content_hash)

    def area(self, area_id: str) -> District:
        """Return the district (or the city) with this id; ``KeyError`` if unknown."""
        return self.citywide if area_id == self.citywide.id else _by_id(self.districts, area_id)

    def agency(self, agency_id: str) -> Agency:
        """Return the agency with this id; ``KeyError`` if unknown."""
        return _by_id(self.agencies, agency_id)

    def asset(self, asset_id: str) -> Asset:
        """Return the asset with this id; ``KeyError`` if unknown."""
        return _by_id(self.assets, asset_id)

    def action(self, action_id: str) -> Action:
        """Return the action with this id; ``KeyError`` if unknown."""
        return _by_id(self.actions, action_id)

    def notice_spec(self, spec_id: str) -> NoticeSpec:
        """Return the notice definition with this id; ``KeyError`` if unknown."""
        return _by_id(self.notices, spec_id)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=_HasId)


def _by_id(items: Iterable[_T], ident: str) -> _T:
    for item in items:
        if item.id == ident:
            return item
    raise KeyError(ident)


def compute_content_hash(plan: Plan) -> str:
    """Hash a plan's canonical content: everything except the hash itself.

    The canonical form is the plan as JSON with sorted keys, so comments, key order and YAML
    formatting do not change the hash, while any change to data or templates does.

    Args:
        plan: The plan; its ``content_hash`` field is ignored.

    Returns:
        The SHA-256 hex digest (64 lowercase hex digits).
    """
    content = dataclasses.asdict(dataclasses.replace(plan, content_hash=""))
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
