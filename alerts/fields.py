"""Field checks shared by the JSON and CAP parsers, so both channels enforce the same rules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from alerts.errors import AlertRejected
from plans.warning import MAX_CLOCK_SKEW

MAX_ID_CHARS = 256
MAX_LINE_CHARS = 1024

_ID_FORBIDDEN = re.compile(r"[\s,<&\x00-\x1f\x7f\ud800-\udfff]")
_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Lone surrogates can arrive through JSON "\ud800" escapes; they cannot be encoded later.
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_EARLIEST_YEAR = 1990
_LATEST_YEAR = 2199


def identifier(value: str, *, field: str) -> str:
    """Check an id (or CAP sender): 1-256 chars, no spaces, commas, ``<``, ``&`` or controls.

    These are CAP 1.2's rules for ``identifier`` and ``sender``. JSON ids follow them too,
    because ids end up in CAP ``references`` and in workflow ids.
    """
    if not value:
        raise AlertRejected("must not be empty", field=field)
    if len(value) > MAX_ID_CHARS:
        raise AlertRejected(f"is {len(value)} characters, over {MAX_ID_CHARS}", field=field)
    bad = _ID_FORBIDDEN.search(value)
    if bad:
        raise AlertRejected(
            f"{value[:80]!r} contains {bad.group()!r}; spaces, commas, '<', '&' and control "
            "characters are not allowed",
            field=field,
        )
    return value


def line(value: str, *, field: str) -> str:
    """Check single-line text (a JSON sender, a headline): no control characters, bounded."""
    if len(value) > MAX_LINE_CHARS:
        raise AlertRejected(f"is {len(value)} characters, over {MAX_LINE_CHARS}", field=field)
    bad = _LINE_FORBIDDEN.search(value)
    if bad:
        raise AlertRejected(f"contains control character {bad.group()!r}", field=field)
    return value


def text(value: str, *, field: str) -> str:
    """Check free text (a description): newlines and tabs allowed, other controls not."""
    bad = _TEXT_FORBIDDEN.search(value)
    if bad:
        raise AlertRejected(f"contains control character {bad.group()!r}", field=field)
    return value


def aware(moment: datetime, *, field: str, original: str) -> datetime:
    """Require a timezone and a plausible year (so UTC conversion can never overflow)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AlertRejected(f"{original!r} has no timezone offset", field=field)
    if not _EARLIEST_YEAR <= moment.year <= _LATEST_YEAR:
        raise AlertRejected(f"{original!r} is outside {_EARLIEST_YEAR}-{_LATEST_YEAR}", field=field)
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
