"""The plan as data: frozen dataclasses mirroring the YAML files under ``plans/<plan>/``.

A ``Plan`` holds only dataclasses, strings, integers, string enums, tuples and ``dict[str, ...]``
so that it round-trips through Temporal's default data converter and can be workflow input.
Text fields keyed by language (``dict[str, str]``) hold Jinja2 template sources.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum

from plans.catalogue import Agency, AreaGroup, Asset, AssetKind, District
from plans.model import (
    Audience,
    EscalationStep,
    Hazard,
    Level,
    PlanRef,
    ResponseLevel,
    StandDown,
)


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
class HazardThreshold:
    """A condition of a compound rule: ``hazard`` active at ``level`` or above."""

    hazard: Hazard
    """The hazard that must be active in the area."""
    level: Level
    """The lowest warning colour that satisfies the condition."""


@dataclass(frozen=True)
class CompoundRule:
    """Raises an area's response level when several hazards coincide (e.g. '三碰头')."""

    id: str
    """Rule id, ``[a-z0-9-]+``."""
    zh: str
    """Chinese name, e.g. ``三碰头``."""
    en: str
    """English name."""
    when: tuple[HazardThreshold, ...]
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
    """``sha256:<hex>`` of the canonical content (see ``compute_content_hash``)."""
    zh: str
    """Chinese title of the plan."""
    en: str
    """English title of the plan."""
    languages: tuple[str, ...]
    """Languages every template must exist in, e.g. ``("zh", "en")``."""
    citywide: District
    """The city as an area: id ``citywide``, its names, and extra aliases for ``resolve_area``."""
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

    @property
    def ref(self) -> PlanRef:
        """The plan's id, version and content hash, for recording which plan ran."""
        return PlanRef(plan_id=self.plan_id, version=self.version, content_hash=self.content_hash)

    def area(self, area_id: str) -> District:
        """Return the district (or the city) with this id.

        Raises:
            KeyError: No such area.
        """
        if area_id == self.citywide.id:
            return self.citywide
        for district in self.districts:
            if district.id == area_id:
                return district
        raise KeyError(area_id)

    def agency(self, agency_id: str) -> Agency:
        """Return the agency with this id.

        Raises:
            KeyError: No such agency.
        """
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(agency_id)

    def asset(self, asset_id: str) -> Asset:
        """Return the asset with this id.

        Raises:
            KeyError: No such asset.
        """
        for asset in self.assets:
            if asset.id == asset_id:
                return asset
        raise KeyError(asset_id)

    def action(self, action_id: str) -> Action:
        """Return the action with this id.

        Raises:
            KeyError: No such action.
        """
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(action_id)

    def notice_spec(self, spec_id: str) -> NoticeSpec:
        """Return the notice definition with this id.

        Raises:
            KeyError: No such notice definition.
        """
        for spec in self.notices:
            if spec.id == spec_id:
                return spec
        raise KeyError(spec_id)


def compute_content_hash(plan: Plan) -> str:
    """Hash a plan's canonical content: everything except the hash itself.

    The canonical form is the plan as JSON with sorted keys, so comments, key order and YAML
    formatting do not change the hash, while any change to data or templates does.

    Args:
        plan: The plan; its ``content_hash`` field is ignored.

    Returns:
        ``sha256:`` followed by the hex digest.
    """
    content = dataclasses.asdict(dataclasses.replace(plan, content_hash=""))
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
