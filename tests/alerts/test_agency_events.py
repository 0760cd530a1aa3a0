"""Agency events are refused at the edge when the layers behind could not carry them.

``parse_event`` either returns an event every layer behind it can carry (a workflow id and a
database row: UTF-8 encodable, no NUL or control characters, within the documented bounds),
or raises :class:`Refused` with a reason that can itself be stored. The consumer on the real
services: ``tests/e2e/test_event_intake.py``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.agency_events import (
    MAX_BY_CHARS,
    MAX_NOTE_CHARS,
    MAX_TASK_ID_CHARS,
    TaskEvent,
    parse_event,
)
from alerts.errors import MAX_REASON_CHARS
from alerts.kafka import Refused
from tests.alerts.strategies import agency_events, edge_json, edge_strings

FUZZ = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
POISON = b'{"task_id": "x/\\ud800", "kind": "acknowledge", "by": "p"}'
"""Issue #9 item 3: valid UTF-8 JSON whose task id no layer behind intake can encode."""


def check(payload: bytes) -> TaskEvent | None:
    """Parse; only Refused may escape, and what parses can travel everywhere."""
    try:
        event = parse_event(payload)
    except Refused as exc:
        assert exc.reason.strip()
        assert len(exc.reason) <= MAX_REASON_CHARS
        assert "\x00" not in exc.reason
        exc.reason.encode("utf-8")
        return None
    for text in (event.task_id, event.event.by, event.event.note):
        text.encode("utf-8")  # strict: a lone surrogate raises here
        assert "\x00" not in text
    assert "/" in event.task_id and len(event.task_id) <= MAX_TASK_ID_CHARS
    assert not any(c.isspace() or ord(c) < 32 for c in event.task_id)
    assert len(event.event.by) <= MAX_BY_CHARS and len(event.event.note) <= MAX_NOTE_CHARS
    return event


def test_the_poison_event_is_refused_at_the_edge() -> None:
    with pytest.raises(Refused, match=r"task_id: contains '\\ud800'"):
        parse_event(POISON)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"task_id": "x/\x00", "kind": "acknowledge"}, "task_id: contains"),
        ({"task_id": "x/a b", "kind": "acknowledge"}, "task_id: contains ' '"),
        ({"task_id": "x/" + "y" * 299, "kind": "acknowledge"}, "task_id: 301 characters"),
        ({"task_id": "x/y", "kind": "acknowledge", "by": "\ud800"}, "by: contains"),
        ({"task_id": "x/y", "kind": "acknowledge", "by": "a\nb"}, "by: contains"),
        ({"task_id": "x/y", "kind": "acknowledge", "by": "p" * 201}, "by: 201 characters"),
        ({"task_id": "x/y", "kind": "decline", "reason": "no\x00staff"}, "reason: contains"),
        ({"task_id": "x/y", "kind": "decline", "reason": "n" * 2001}, "reason: 2001 char"),
        ({"task_id": "x/y", "kind": "complete", "note": 5}, "note: must be a string"),
    ],
)
def test_values_the_layers_behind_cannot_carry_are_refused(
    body: dict[str, object], reason: str
) -> None:
    with pytest.raises(Refused) as refused:
        parse_event(edge_json(body))
    assert refused.value.reason.startswith(reason), refused.value.reason


@pytest.mark.parametrize(
    "payload",
    [
        b'{"task_id": "x/y", "kind": "acknowledge", "n": ' + b"9" * 5000 + b"}",
        b'{"task_id": "x/y", "kind": "acknowledge", "n": NaN}',
        b'{"task_id": "x/y", "kind": "acknowledge", "n": -Infinity}',
        b'{"task_id": "x/y", "kind": "acknowledge", "n": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"task_id": "x/y", "task_id": "x/z", "kind": "acknowledge"}',
    ],
    ids=["huge-integer", "nan", "infinity", "deep", "duplicate-key"],
)
def test_json_that_parses_differently_or_not_at_all_elsewhere_is_refused(payload: bytes) -> None:
    assert check(payload) is None


def test_well_formed_events_still_parse() -> None:
    body = {"task_id": "response-sh-1/drainage.prelower@pudong", "kind": "decline"}
    event = check(json.dumps(body | {"by": "泵站 3", "reason": "no staff\non the island"}).encode())
    assert event is not None
    assert (event.task_id, event.event.kind) == (body["task_id"], "decline")
    assert event.event.note == "no staff\non the island"
    assert check(json.dumps(body | {"kind": "acknowledge", "n": 1e300}).encode()) is not None


@settings(FUZZ, max_examples=600)
@given(agency_events())
def test_fuzzed_events_either_travel_everywhere_or_are_refused(payload: bytes) -> None:
    check(payload)


@settings(FUZZ, max_examples=300)
@given(edge_strings, st.sampled_from(["task_id", "by", "reason", "note", "kind"]))
def test_every_field_refuses_what_it_cannot_carry(value: str, field: str) -> None:
    body = {"task_id": "x/y", "kind": "decline", "reason": "why"} | {field: value}
    check(edge_json(body))


@pytest.mark.parametrize(
    ("note", "reason"),
    [("a\x00b", r"note: contains '\\x00'"), ("n" * 2001, "note: 2001 characters, over 2000")],
)
def test_a_note_is_held_to_its_bounds_even_beside_a_reason(note: str, reason: str) -> None:
    """``docs/messages.md`` bounds ``reason`` and ``note`` alike: a bad ``note`` beside a good
    ``reason`` used to pass unchecked (and unread); the contract refuses it like any field."""
    body = {"task_id": "x/y", "kind": "decline", "reason": "no staff", "note": note}
    with pytest.raises(Refused, match=f"^{reason}"):
        parse_event(edge_json(body))
    assert check(edge_json(body | {"note": "see the log"})) is not None
