"""Field checks shared by the JSON and CAP parsers, so both channels enforce the same rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.errors import AlertRejected
from plans.warning import MAX_CLOCK_SKEW

MAX_ID_CHARS = 256
MAX_LINE_CHARS = 1024

_ID_FORBIDDEN = re.compile(r"[\s,<&\x00-\x1f\x7f\ud800-\udfff]")
_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Lone surrogates can arrive through JSON "\ud800" escapes; they cannot be encoded later.
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
EARLIEST_YEAR = 1990
LATEST_YEAR = 2199


@dataclass(frozen=True)
class Text:
    """What one kind of string may hold, and how a refusal says what is wrong.

    Checked in this order: empty, length, forbidden characters. The CAP parser (through
    :func:`identifier`, :func:`line` and :func:`text`) and the JSON contracts of
    :mod:`alerts.wire` check with the same rules, so the formats cannot drift apart.
    """

    max_chars: int | None = None
    """The longest value allowed, in characters; ``None``: no limit."""
    forbidden: re.Pattern[str] | None = None
    """Characters the value must not contain."""
    non_empty: bool = False
    """Whether ``""`` is refused."""
    too_long: str = "is {n} characters, over {limit}"
    """How an over-long value is reported (``{n}``: its length, ``{limit}``: the maximum)."""
    bad_char: str = "contains control character {bad!r}"
    """How a forbidden character is reported (``{bad}``; ``{value}``: the first 80 chars)."""

    def problem(self, value: str) -> str | None:
        """Why ``value`` breaks this rule, or ``None`` if it keeps it."""
        if self.non_empty and not value:
            return "must not be empty"
        if self.max_chars is not None and len(value) > self.max_chars:
            return self.too_long.format(n=len(value), limit=self.max_chars)
        bad = self.forbidden.search(value) if self.forbidden is not None else None
        if bad:
            return self.bad_char.format(value=value[:80], bad=bad.group())
        return None

    def check(self, value: str, *, field: str) -> str:
        """Return ``value`` if it keeps this rule.

        Raises:
            AlertRejected: It does not, naming ``field``.
        """
        problem = self.problem(value)
        if problem is not None:
            raise AlertRejected(problem, field=field)
        return value


IDENTIFIER = Text(
    max_chars=MAX_ID_CHARS,
    forbidden=_ID_FORBIDDEN,
    non_empty=True,
    bad_char="{value!r} contains {bad!r}; spaces, commas, '<', '&' and control characters "
    "are not allowed",
)
"""An id (or CAP sender): 1-256 chars, no spaces, commas, ``<``, ``&`` or controls.

These are CAP 1.2's rules for ``identifier`` and ``sender``. JSON ids follow them too, because
ids end up in CAP ``references`` and in workflow ids.
"""
LINE = Text(max_chars=MAX_LINE_CHARS, forbidden=_LINE_FORBIDDEN)
"""Single-line text (a JSON sender, a headline): no control characters, bounded."""
TEXT = Text(forbidden=_TEXT_FORBIDDEN)
"""Free text (a description): newlines and tabs allowed, other controls not."""


def identifier(value: str, *, field: str) -> str:
    """Check an id (or CAP sender) against :data:`IDENTIFIER`."""
    return IDENTIFIER.check(value, field=field)


def line(value: str, *, field: str) -> str:
    """Check single-line text (a headline, a CAP event) against :data:`LINE`."""
    return LINE.check(value, field=field)


def text(value: str, *, field: str) -> str:
    """Check free text (a description) against :data:`TEXT`."""
    return TEXT.check(value, field=field)


def aware(moment: datetime, *, field: str, original: str) -> datetime:
    """Require a timezone and a plausible year (so UTC conversion can never overflow)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AlertRejected(f"{original!r} has no timezone offset", field=field)
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise AlertRejected(f"{original!r} is outside {EARLIEST_YEAR}-{LATEST_YEAR}", field=field)
    return moment


def not_ahead(sent: datetime, now: datetime, *, field: str = "sent") -> None:
    """Reject a ``sent`` further ahead of ``now`` than clock skew explains (a mistyped date).

    Args:
        sent: The message's ``sent`` (timezone-aware).
        now: The receiving clock (timezone-aware).
        field: The field to blame.

    Raises:
        AlertRejected: ``sent`` is more than :data:`~plans.warning.MAX_CLOCK_SKEW` after ``now``.
    """
    ahead = sent - now
    if ahead > MAX_CLOCK_SKEW:
        raise AlertRejected(
            f"{sent.isoformat()} is {_duration(ahead)} ahead of tidegate's clock "
            f"({now.isoformat(timespec='seconds')}); at most {_duration(MAX_CLOCK_SKEW)} of "
            "clock skew is allowed: check the date and the sender's clock",
            field=field,
        )


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def references(
    ids: list[str], *, own_id: str, kind_needs_them: bool, field: str
) -> tuple[str, ...]:
    """De-duplicate referenced ids and apply the rules of ``docs/alerts.md``.

    Updates and cancels must reference at least one earlier message; no message may reference
    itself. A new alert may carry references (CAP allows it) but they do not chain it.
    """
    unique = tuple(dict.fromkeys(ids))
    if kind_needs_them and not unique:
        raise AlertRejected("an update or cancel must reference the message it changes", field)
    if own_id in unique:
        raise AlertRejected(f"message {own_id!r} references itself", field=field)
    return unique


def expiry_after_sent(sent: datetime, expires: datetime | None) -> None:
    """Reject a warning that lapses before (or when) it is sent."""
    if expires is not None and expires <= sent:
        raise AlertRejected(
            f"expires {expires.isoformat()} is not after sent {sent.isoformat()}", field="expires"
        )
