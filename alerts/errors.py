"""The one exception alert intake raises for bad input.

Exception tree::

    Exception
    └── AlertRejected   (reason, field, code)

Every parser in :mod:`alerts` turns anything wrong with a payload (size, encoding, syntax,
schema, unknown hazard, level or area) into :class:`AlertRejected`, so each channel (CLI, HTTP,
Kafka) needs exactly one ``except`` clause and can always record *why* a payload was refused.
Any other exception escaping a parser is a bug.
"""

from __future__ import annotations

import re
from enum import StrEnum

MAX_REASON_CHARS = 500
MAX_FIELD_CHARS = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RejectCode(StrEnum):
    """What kind of problem a rejection is, so channels can map it to a status or a DLQ topic."""

    TOO_LARGE = "too_large"
    """The payload is over the configured byte limit (HTTP 413)."""
    TIMEOUT = "timeout"
    """The payload did not arrive within the read timeout (HTTP 408)."""
    ENCODING = "encoding"
    """The bytes are not UTF-8 text (HTTP 400)."""
    SYNTAX = "syntax"
    """Not well-formed JSON or XML, or forbidden XML constructs such as a DTD (HTTP 400)."""
    MEDIA_TYPE = "media_type"
    """The body is not the format its declared content type says (HTTP 415)."""
    SCHEMA = "schema"
    """Well-formed, but a field is missing, malformed or unmappable (HTTP 422)."""


class AlertRejected(Exception):
    """A payload was refused; ``reason`` says why in one line a duty officer can act on.

    Args:
        reason: Human-readable cause, naming the offending value where there is one.
        field: The JSON field or CAP element at fault, or ``None`` for whole-payload problems.
        code: The category of the problem.
    """

    def __init__(
        self, reason: str, field: str | None = None, code: RejectCode = RejectCode.SCHEMA
    ) -> None:
        reason = printable(reason, MAX_REASON_CHARS)
        field = None if field is None else printable(field, MAX_FIELD_CHARS)
        super().__init__(reason)
        self.reason: str = reason
        self.field = field
        self.code = code

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason

    def __repr__(self) -> str:
        return f"AlertRejected({self.reason!r}, field={self.field!r}, code={self.code.value!r})"


def printable(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Keep reasons safe to log, print, JSON-encode and store, whatever the payload contained.

    Lone surrogates (from JSON ``\\ud800`` escapes) cannot be encoded as UTF-8, PostgreSQL text
    cannot hold NUL, and control characters would break log lines: all are written as escapes.
    A payload with thousands of bad keys must not produce a reason of the same size either.
    """
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    safe = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", safe)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"
