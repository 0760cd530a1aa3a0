"""Domain types shared by the plan loader, the plan logic, alert intake and the workflows.

Everything here is a frozen dataclass or a string enum built from tuples and plain values, so
that it round-trips through Temporal's default JSON data converter unchanged and can be passed
as workflow input (a running response pins the plan it started with).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
    kind: EscalationKind
    """Which slip is sent: reminder, supervision or warning."""
    to: Recipient
    """Who receives it."""


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
    """``sha256:`` followed by the hex digest of the plan's canonical content."""


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
