"""The one entry point of every channel: bytes in, an :class:`Alert` or :class:`AlertRejected` out.

:func:`parse_alert` applies every *stateless* intake rule in a fixed order (size, encoding,
format, syntax, schema, hazard/level/area mapping, a ``sent`` not in the future), so
``tidegate alert validate``, the HTTP API and the Kafka consumer accept and reject exactly the
same payloads. Stateful rules (duplicates, ordering, held updates) live in :mod:`plans.ledger`.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from enum import StrEnum

from alerts import fields
from alerts.errors import AlertRejected, RejectCode
from alerts.parse_cap import parse_cap
from alerts.parse_json import parse_json
from plans.loader import load_plan
from plans.model import Plan
from plans.warning import Alert

DEFAULT_MAX_BYTES = 256 * 1024
"""Default payload limit: a CAP message with two languages and a long description is ~10 KiB."""

logger = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)


class PayloadFormat(StrEnum):
    """The two wire formats intake understands, told apart by content."""

    JSON = "json"
    CAP = "cap"


def check_size(size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Reject a payload over the limit; callers that know the size up front check it early.

    Raises:
        AlertRejected: ``size`` is over ``max_bytes`` (code ``too_large``).
    """
    if size > max_bytes:
        raise AlertRejected(
            f"payload is {size} bytes, over the limit of {max_bytes} bytes",
            code=RejectCode.TOO_LARGE,
        )


def decode(payload: bytes) -> str:
    """Check the payload is UTF-8 text and return it decoded, without a byte-order mark.

    Raises:
        AlertRejected: Another encoding's byte-order mark, invalid UTF-8, or NUL characters.
    """
    for bom, name in _OTHER_BOMS:
        if payload.startswith(bom):
            raise AlertRejected(
                f"payload is {name} (byte-order mark); only UTF-8 is accepted",
                code=RejectCode.ENCODING,
            )
    data = payload.removeprefix(_UTF8_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise AlertRejected(
            f"not valid UTF-8: byte 0x{bad} at offset {exc.start}", code=RejectCode.ENCODING
        ) from None
    if "\x00" in text:
        raise AlertRejected(
            f"contains a NUL character at offset {text.index(chr(0))} (UTF-16 or binary data?)",
            code=RejectCode.ENCODING,
        )
    return text


def sniff(text: str) -> PayloadFormat:
    """Tell JSON from XML by the first non-blank character.

    Raises:
        AlertRejected: The text is blank or starts with anything else.
    """
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return PayloadFormat.JSON
    if stripped.startswith("<"):
        return PayloadFormat.CAP
    if not stripped:
        raise AlertRejected("payload is empty", code=RejectCode.SYNTAX)
    raise AlertRejected(
        f"neither a JSON object nor an XML document (starts with {stripped[:20]!r})",
        code=RejectCode.SYNTAX,
    )


@functools.cache
def bundled_plan() -> Plan:
    """The bundled plan, loaded once: the catalogue of offline tools and tests that pass none."""
    return load_plan()


def parse_alert(
    payload: bytes,
    *,
    plan: Plan | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    expect: PayloadFormat | None = None,
    now: datetime | None = None,
) -> Alert:
    """Validate one payload from any channel and return the warning it carries.

    Args:
        payload: The bytes exactly as received.
        plan: The plan the deployment runs: its catalogue names the hazards, colours, areas
            and codes (``台风``, ``橙色``, ``黄浦江``, ``中心城区``, ``310115`` ...). Every
            intake edge passes its plan; ``None`` means the bundled plan, for tests.
        max_bytes: Size limit; larger payloads are rejected before any parsing.
        expect: The format the channel declared (e.g. from ``Content-Type``); a body of the
            other format is rejected with code ``media_type``. ``None`` accepts either.
        now: The receiving clock, which ``sent`` may not be more than
            :data:`~plans.warning.MAX_CLOCK_SKEW` ahead of. ``None`` is the system clock;
            drills pass their service clock (the time-skipping server's runs ahead of it).

    Returns:
        The validated alert; ``raw`` holds the decoded payload.

    Raises:
        AlertRejected: The only exception for bad input, with a reason naming the problem.
    """
    check_size(len(payload), max_bytes)
    text = decode(bytes(payload))
    found = sniff(text)
    if expect is not None and found != expect:
        raise AlertRejected(
            f"declared as {expect.value} but the body is {found.value}",
            code=RejectCode.MEDIA_TYPE,
        )
    plan = plan if plan is not None else bundled_plan()
    try:
        alert = parse_json(text, plan) if found is PayloadFormat.JSON else parse_cap(text, plan)
    except AlertRejected:
        raise
    except Exception as exc:
        # A bug, not bad input. Rejecting keeps every channel alive and the payload recorded;
        # the fuzz test fails on this reason, so such bugs do not stay hidden.
        logger.exception("internal error while parsing a %s payload", found.value)
        raise AlertRejected(
            f"internal error while parsing ({type(exc).__name__}); please report this",
            code=RejectCode.SYNTAX,
        ) from exc
    fields.not_ahead(alert.sent, datetime.now(UTC) if now is None else now)
    return alert
