"""The JSON form: every field checked, every problem named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from alerts.errors import AlertRejected, RejectCode
from alerts.intake import parse_alert
from plans.model import Hazard, Level
from plans.warning import Kind, Status
from tests.alerts.factories import SAMPLES, document, json_payload


def rejected(payload: bytes) -> AlertRejected:
    with pytest.raises(AlertRejected) as caught:
        parse_alert(payload)
    assert caught.value.reason
    return caught.value


def test_sample_is_parsed_completely() -> None:
    alert = parse_alert((SAMPLES / "rainstorm_orange.json").read_bytes())
    assert alert.id == "SH-MET-2024-1031-RS-004"
    assert alert.sender == "上海中心气象台"
    assert alert.sent == datetime(2024, 10, 31, 8, 20, tzinfo=UTC)
    assert alert.sent.utcoffset() == timedelta(hours=8)
    assert (alert.status, alert.kind, alert.references) == (Status.ACTUAL, Kind.ALERT, ())
    assert (alert.hazard, alert.level) == (Hazard.RAINSTORM, Level.ORANGE)
    assert alert.areas == ("pudong", "jinshan", "fengxian")
    assert alert.expires == datetime(2024, 11, 1, 4, 20, tzinfo=timezone(timedelta(hours=8)))
    assert alert.raw == (SAMPLES / "rainstorm_orange.json").read_text()


def test_optional_fields_may_be_absent_or_null() -> None:
    alert = parse_alert(
        json_payload(references=None, headline=None, description=None, expires=None)
    )
    assert (alert.references, alert.headline, alert.description, alert.expires) == (
        (),
        "",
        "",
        None,
    )
    explicit = document()
    explicit.update(headline=None, expires=None)
    assert parse_alert(json.dumps(explicit).encode()).headline == ""


@pytest.mark.parametrize(
    ("overrides", "hazard", "level", "areas"),
    [
        ({"hazard": "typhoon"}, Hazard.WIND, Level.BLUE, ("pudong",)),
        ({"hazard": "Gale"}, Hazard.WIND, Level.BLUE, ("pudong",)),
        ({"hazard": "台风", "level": "红色"}, Hazard.WIND, Level.RED, ("pudong",)),
        ({"level": "Ⅲ"}, Hazard.RAINSTORM, Level.YELLOW, ("pudong",)),
        ({"areas": ["上海"]}, Hazard.RAINSTORM, Level.BLUE, ("citywide",)),
        ({"areas": ["Shanghai", "Pudong"]}, Hazard.RAINSTORM, Level.BLUE, ("citywide",)),
        (
            {"areas": ["jingan", "Xuhui District"]},
            Hazard.RAINSTORM,
            Level.BLUE,
            ("xuhui", "jingan"),
        ),
    ],
)
def test_hazard_level_and_area_spellings(
    overrides: dict[str, Any], hazard: Hazard, level: Level, areas: tuple[str, ...]
) -> None:
    alert = parse_alert(json_payload(**overrides))
    assert (alert.hazard, alert.level, alert.areas) == (hazard, level, areas)


def test_enums_are_case_insensitive_and_references_deduplicated() -> None:
    alert = parse_alert(json_payload(status="Exercise", kind="UPDATE", references=["A", "B", "A"]))
    assert (alert.status, alert.kind, alert.references) == (
        Status.EXERCISE,
        Kind.UPDATE,
        ("A", "B"),
    )


@pytest.mark.parametrize(
    "field", ["id", "sender", "sent", "status", "kind", "hazard", "level", "areas"]
)
def test_each_required_field_is_named_when_missing(field: str) -> None:
    problem = rejected(json_payload(**{field: None}))
    assert (problem.field, problem.reason) == (field, "required field is missing")
    assert problem.code is RejectCode.SCHEMA


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"id": 42}, "id", "must be a string, got int"),
        ({"id": ""}, "id", "must not be empty"),
        ({"id": "a b"}, "id", "contains ' '"),
        ({"id": "a,b"}, "id", "contains ','"),
        ({"id": "a<b"}, "id", "contains '<'"),
        ({"id": "x" * 300}, "id", "over 256"),
        ({"sender": ["x"]}, "sender", "must be a string, got list"),
        ({"sender": " "}, "sender", "must not be empty"),
        ({"sender": "a\nb"}, "sender", "control character"),
        ({"headline": "a\x07"}, "headline", "control character"),
        ({"areas": "浦东新区"}, "areas", "must be a list of strings, got str"),
        ({"areas": [1]}, "areas", "must be a list of strings"),
        ({"areas": []}, "areas", "no areas"),
        ({"areas": ["火星"]}, "areas", "unknown area '火星'"),
        ({"references": "A"}, "references", "must be a list of strings"),
        ({"status": "live"}, "status", "is not one of actual, exercise, test"),
        ({"kind": "ack"}, "kind", "is not one of alert, update, cancel"),
        ({"hazard": "snow"}, "hazard", "unknown hazard 'snow'"),
        ({"level": "purple"}, "level", "unknown level 'purple'"),
        ({"sent": "yesterday"}, "sent", "is not an ISO 8601 timestamp"),
        ({"sent": "2024-09-20T05:30:00"}, "sent", "has no timezone offset"),
        ({"sent": "2024-09-20"}, "sent", "has no timezone offset"),
        ({"sent": "0001-01-01T00:00:00+08:00"}, "sent", "outside 1990-2199"),
        ({"sent": 1726781400}, "sent", "must be a string, got int"),
        ({"expires": "2024-09-20T05:00:00+08:00"}, "expires", "is not after sent"),
        ({"kind": "update"}, "references", "must reference"),
        ({"kind": "cancel", "references": []}, "references", "must reference"),
        ({"kind": "update", "references": ["SH-MET-2024-0920-RS-001"]}, "references", "itself"),
        ({"references": ["a b"]}, "references", "contains ' '"),
        ({"raw": "x"}, "raw", "filled in by tidegate"),
        ({"colour": "red"}, "colour", "unknown field(s) 'colour'"),
    ],
)
def test_invalid_fields_are_rejected_with_field_and_reason(
    overrides: dict[str, Any], field: str, words: str
) -> None:
    problem = rejected(json_payload(**overrides))
    assert problem.field == field
    assert words in problem.reason


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"id": "a",}', "invalid JSON"),
        (b'{"id": "a"', "invalid JSON"),
        (b'{"id": NaN}', "NaN is not allowed"),
        (b'{"id": Infinity}', "Infinity is not allowed"),
        (b'{"id": "a", "id": "b"}', "duplicate key"),
        (b'{"a": {"b": 1, "b": 2}}', "duplicate key"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "invalid JSON"),
        (b"{} {}", "invalid JSON: Extra data"),
    ],
)
def test_syntax_errors_are_rejected(payload: bytes, words: str) -> None:
    problem = rejected(payload)
    assert words in problem.reason
    assert problem.code is RejectCode.SYNTAX


def test_the_line_and_column_of_a_syntax_error_are_given() -> None:
    assert "line 2 column 3" in rejected(b'{"id": "a",\n  ]}').reason


def test_lone_surrogate_escapes_are_rejected() -> None:
    payload = json.dumps(document(description="bad \ud800 surrogate")).encode()
    assert b"\\ud800" in payload
    problem = rejected(payload)
    assert (problem.field, problem.reason) == (
        "description",
        "contains control character '\\ud800'",
    )
