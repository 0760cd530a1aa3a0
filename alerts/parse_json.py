"""The JSON form of a warning (CLI, HTTP and Kafka), parsed strictly.

The form uses exactly the :class:`~plans.warning.Alert` field names, minus ``raw`` (tidegate keeps
the payload itself); see ``docs/alerts.md`` for an example. Strict means: unknown or duplicate
keys, wrong types, ``NaN``, naive timestamps and unknown hazards, levels or areas are all
rejected with the field named, because a warning that was misread is worse than one refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from alerts import fields, vocabulary
from alerts.errors import AlertRejected, RejectCode
from plans.model import Plan
from plans.warning import Alert, Kind, Status

_E = TypeVar("_E", Kind, Status)

REQUIRED = ("id", "sender", "sent", "status", "kind", "hazard", "level", "areas")
OPTIONAL = ("references", "headline", "description", "expires")
_KNOWN = frozenset(REQUIRED + OPTIONAL)


def parse_json(text: str, plan: Plan) -> Alert:
    """Parse the JSON form into an :class:`Alert`.

    Args:
        text: The decoded payload (UTF-8 already checked by :func:`alerts.intake.parse_alert`).
        plan: The plan whose catalogue names hazards, colours and areas.

    Returns:
        The validated alert, with ``raw`` set to ``text``.

    Raises:
        AlertRejected: For any syntax or schema problem.
    """
    data = _load(text)
    if not isinstance(data, dict):
        raise AlertRejected(f"expected a JSON object, got {type(data).__name__}", None)
    if "raw" in data:
        raise AlertRejected("is filled in by tidegate and must not be sent", field="raw")
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise AlertRejected(f"unknown field(s) {', '.join(map(repr, unknown))}", field=unknown[0])
    for key in REQUIRED:
        if key not in data:
            raise AlertRejected("required field is missing", field=key)
    return _build(data, text, plan)


def _build(data: dict[str, Any], text: str, plan: Plan) -> Alert:
    alert_id = fields.identifier(_string(data, "id"), field="id")
    kind = _enum(Kind, data, "kind")
    sent = _time(data, "sent")
    expires = _time(data, "expires") if data.get("expires") is not None else None
    fields.expiry_after_sent(sent, expires)
    refs = [fields.identifier(r, field="references") for r in _strings(data, "references")]
    return Alert(
        id=alert_id,
        sender=fields.line(_required(data, "sender"), field="sender"),
        sent=sent,
        status=_enum(Status, data, "status"),
        kind=kind,
        references=fields.references(
            refs, own_id=alert_id, kind_needs_them=kind != Kind.ALERT, field="references"
        ),
        hazard=vocabulary.hazard(_string(data, "hazard"), plan, field="hazard"),
        level=vocabulary.level(_string(data, "level"), plan, field="level"),
        areas=vocabulary.areas(_strings(data, "areas"), plan, field="areas"),
        headline=fields.line(_string(data, "headline", default=""), field="headline"),
        description=fields.text(_string(data, "description", default=""), field="description"),
        expires=expires,
        raw=text,
    )


def _load(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except RecursionError:
        raise AlertRejected("JSON is nested too deeply", code=RejectCode.SYNTAX) from None
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise AlertRejected(reason, code=RejectCode.SYNTAX) from None
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise AlertRejected(f"invalid JSON: {exc}", code=RejectCode.SYNTAX) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise AlertRejected("duplicate key in JSON object", field=key, code=RejectCode.SYNTAX)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise AlertRejected(f"invalid JSON: {name} is not allowed", code=RejectCode.SYNTAX)


def _string(data: dict[str, Any], key: str, *, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise AlertRejected(f"must be a string, got {_type(value)}", field=key)
    return value.strip()


def _required(data: dict[str, Any], key: str) -> str:
    value = _string(data, key)
    if not value:
        raise AlertRejected("must not be empty", field=key)
    return value


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AlertRejected(f"must be a list of strings, got {_type(value)}", field=key)
    return [v.strip() for v in value]


def _enum(enum: type[_E], data: dict[str, Any], key: str) -> _E:
    value = _string(data, key)
    try:
        return enum(value.lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise AlertRejected(f"{value[:40]!r} is not one of {allowed}", field=key) from None


def _time(data: dict[str, Any], key: str) -> datetime:
    value = _string(data, key)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AlertRejected(f"{value[:60]!r} is not an ISO 8601 timestamp", field=key) from None
    return fields.aware(moment, field=key, original=value)


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__
