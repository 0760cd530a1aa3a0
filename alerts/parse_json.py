"""The JSON form of a warning (CLI, HTTP and Kafka), parsed strictly.

The form is :class:`alerts.wire.AlertDocument`: it validates every field, and
``docs/alerts.md`` shows its field table. Strict means: unknown or duplicate keys, wrong
types, ``NaN``, naive timestamps and unknown hazards, levels or areas are all rejected with the
field named, because a warning that was misread is worse than one refused.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from alerts import vocabulary
from alerts.errors import AlertRejected, RejectCode
from alerts.wire import AlertDocument, alert_problem
from plans.model import Plan
from plans.warning import Alert


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
    try:
        document = AlertDocument.model_validate(data)
    except ValidationError as exc:
        field, reason = alert_problem(exc, data)
        raise AlertRejected(reason, field) from None
    return Alert(
        id=document.id,
        sender=document.sender,
        sent=document.sent,
        status=document.status,
        kind=document.kind,
        references=tuple(document.references),
        hazard=vocabulary.hazard(document.hazard, plan, field="hazard"),
        level=vocabulary.level(document.level, plan, field="level"),
        areas=vocabulary.areas(document.areas, plan, field="areas"),
        headline=document.headline or "",
        description=document.description or "",
        expires=document.expires,
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
