"""The warning as tidegate understands it, whatever channel or format it arrived in.

The class is called :class:`Alert`, not ``Warning``: ``Warning`` is a Python builtin (the base
of all warning categories) and shadowing it invites subtle bugs. "Alert" is also CAP's name
for the message that carries a warning.

An :class:`Alert` is a frozen dataclass of strings, string enums, tuples and timezone-aware
datetimes, so it round-trips through Temporal's default data converter unchanged and can be a
workflow or signal argument as it is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from plans.model import ActiveWarning, Hazard, Level

MAX_CLOCK_SKEW = timedelta(minutes=15)
"""How far ahead of tidegate's clock a message's ``sent`` may be.

Senders' clocks drift, so a little future is clock skew; more is a mistyped date (``2199`` for
``2019``), and such a ``sent`` would make every later update or cancel look older than the
warning it changes. Intake refuses a message sent further ahead than this, and the ledger
does not order by a ``sent`` that is still further ahead than this when a message arrives.
"""


class Status(StrEnum):
    """Whether a warning is real. Only ``actual`` warnings ever reach live dispatch."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    """A drill: routed to the drill namespace and topics, never live."""
    TEST = "test"
    """An end-to-end check of the intake path: logged and ignored."""


class Kind(StrEnum):
    """What the message does to the warning it belongs to (CAP ``msgType``)."""

    ALERT = "alert"
    """A new warning."""
    UPDATE = "update"
    """Replaces the warning(s) named in ``references``."""
    CANCEL = "cancel"
    """Lifts the warning(s) named in ``references``."""


class Route(StrEnum):
    """Where intake sends a parsed warning, decided by its status alone."""

    LIVE = "live"
    DRILL = "drill"
    IGNORED = "ignored"


_ROUTES = {Status.ACTUAL: Route.LIVE, Status.EXERCISE: Route.DRILL, Status.TEST: Route.IGNORED}


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One validated warning message (a new warning, an update or a cancellation)."""

    id: str
    """Issuer-assigned identifier, unique per message (CAP ``identifier``)."""
    sender: str
    """Who issued it, e.g. ``上海中心气象台`` or a CAP sender address."""
    sent: datetime
    """When the issuer sent it; always timezone-aware, at most :data:`MAX_CLOCK_SKEW` ahead of
    the clock that received it. Orders messages of one warning."""
    status: Status
    kind: Kind
    references: tuple[str, ...] = ()
    """Ids of earlier messages this update or cancel applies to; empty for a new alert."""
    hazard: Hazard
    level: Level
    areas: tuple[str, ...]
    """Canonical area ids: ``("citywide",)`` or district ids in a fixed order, never empty."""
    headline: str = ""
    description: str = ""
    expires: datetime | None = None
    """When the warning lapses on its own (timezone-aware); ``None`` means until cancelled."""
    raw: str = ""
    """The original payload text, kept for audit. Not part of the fingerprint."""

    @property
    def route(self) -> Route:
        """Live for actual warnings, drill for exercises, ignored for tests."""
        return _ROUTES[self.status]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the content without ``id``, ``sent`` and ``raw``.

        Two messages with the same fingerprint say the same thing, so a re-send under a new id
        (a common failure of relay chains) can be recognised and applied only once.
        ``expires`` is compared as an instant, so ``+08:00`` and ``-00:00`` spellings agree.
        """
        content = {
            "sender": self.sender,
            "status": self.status.value,
            "kind": self.kind.value,
            "references": sorted(self.references),
            "hazard": self.hazard.value,
            "level": self.level.value,
            "areas": list(self.areas),
            "headline": self.headline,
            "description": self.description,
            "expires": _utc(self.expires),
        }
        canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_active(self) -> ActiveWarning:
        """Reduce to what the plan engine needs to choose a response."""
        return ActiveWarning(hazard=self.hazard, level=self.level, areas=self.areas)

    def to_json(self, *, include_raw: bool = False) -> dict[str, Any]:
        """Return the documented JSON form (see ``docs/alerts.md``).

        Args:
            include_raw: Add the original payload under ``raw``. Off by default because the
                JSON intake refuses a ``raw`` field: tidegate fills it in itself.

        Returns:
            A dict that :func:`alerts.parse_json.parse_json` accepts back (without ``raw``).
        """
        data: dict[str, Any] = {
            "id": self.id,
            "sender": self.sender,
            "sent": self.sent.isoformat(),
            "status": self.status.value,
            "kind": self.kind.value,
            "references": list(self.references),
            "hazard": self.hazard.value,
            "level": self.level.value,
            "areas": list(self.areas),
            "headline": self.headline,
            "description": self.description,
            "expires": self.expires.isoformat() if self.expires else None,
        }
        if include_raw:
            data["raw"] = self.raw
        return data


def _utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
