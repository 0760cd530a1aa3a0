"""Fuzzing parse_alert: thousands of malformed payloads, zero crashes, valid ones still accepted.

Every payload either parses or raises :class:`AlertRejected` with a usable reason; any other
exception fails the test, and so does a rejection that admits to an internal error (the
safety net in :func:`alerts.intake.parse_alert` turns bugs into rejections, so it must never
fire here). About 3,400 examples (plus 600 interleaved noise payloads) run in total,
in a few seconds.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.errors import MAX_REASON_CHARS, AlertRejected
from alerts.intake import parse_alert
from plans.warning import Alert
from tests.alerts.factories import CAP_SAMPLES, mutated
from tests.alerts.strategies import (
    JSON_BASE,
    JSON_SAMPLES,
    cap_documents,
    edge_alert_documents,
    hostile_json,
    hostile_xml,
    json_documents,
    valid_alerts,
)

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMIT = 64 * 1024


def check(payload: bytes) -> Alert | None:
    """Parse; only AlertRejected may escape, with a short, encodable, honest reason."""
    try:
        alert = parse_alert(payload, max_bytes=LIMIT)
    except AlertRejected as problem:
        assert problem.reason.strip()
        assert "internal error" not in problem.reason, problem.reason
        assert len(problem.reason) <= MAX_REASON_CHARS
        str(problem).encode("utf-8")
        return None
    assert alert.areas
    assert alert.sent.utcoffset() is not None
    assert len(alert.fingerprint) == 64
    alert.raw.encode("utf-8")
    return alert


# --- byte-level noise -----------------------------------------------------------------------


@settings(FUZZ, max_examples=500)
@given(st.binary(max_size=4096))
def test_random_bytes(payload: bytes) -> None:
    check(payload)


@settings(FUZZ, max_examples=500)
@given(mutated(JSON_SAMPLES))
def test_mutated_json_bytes(payload: bytes) -> None:
    check(payload)


@settings(FUZZ, max_examples=500)
@given(mutated(CAP_SAMPLES))
def test_mutated_cap_bytes(payload: bytes) -> None:
    check(payload)


# --- structural mutations -------------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(json_documents())
def test_structurally_mutated_json(payload: bytes) -> None:
    check(payload)


@settings(FUZZ, max_examples=400)
@given(cap_documents())
def test_structurally_mutated_cap(payload: bytes) -> None:
    check(payload)


# --- hostile payloads -----------------------------------------------------------------------


@settings(FUZZ, max_examples=300)
@given(hostile_xml())
def test_hostile_xml_is_rejected(hostile: tuple[bytes, bool]) -> None:
    payload, must_reject = hostile
    alert = check(payload)
    assert alert is None or not must_reject


@settings(FUZZ, max_examples=200)
@given(hostile_json())
def test_hostile_json_never_crashes(payload: bytes) -> None:
    check(payload)


@settings(FUZZ, max_examples=400)
@given(edge_alert_documents())
def test_values_the_layers_behind_cannot_carry_are_refused_at_the_edge(payload: bytes) -> None:
    """Lone surrogates, NUL, long ids and huge numbers: refused, or storable everywhere."""
    alert = check(payload)
    if alert is None:
        return
    texts = [alert.id, alert.sender, alert.headline, alert.description, *alert.references]
    for text in texts + list(alert.areas):
        text.encode("utf-8")  # strict: a workflow id, a Temporal payload, a database row
        assert "\x00" not in text
    assert len(alert.id) <= 256


# --- valid payloads, interleaved with the noise above, are still accepted --------------------


@settings(FUZZ, max_examples=300)
@given(valid_alerts(), mutated([JSON_BASE, *CAP_SAMPLES]))
def test_valid_alerts_interleaved_with_noise_are_accepted(
    valid: tuple[bytes, dict[str, Any]], noise: bytes
) -> None:
    check(noise)
    payload, expected = valid
    alert = check(payload)
    assert alert is not None, payload
    assert alert.id == expected["id"]
    assert (alert.hazard, alert.level) == (expected["hazard"], expected["level"])
    assert set(alert.areas) == expected["areas"]
    assert alert.headline == expected["headline"]
    check(noise)
