"""parse_alert: size limit, encoding, format sniffing, a sent not in the future, no crashes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from alerts import intake
from alerts.errors import AlertRejected, RejectCode
from alerts.intake import DEFAULT_MAX_BYTES, PayloadFormat, parse_alert
from plans.warning import MAX_CLOCK_SKEW
from tests.alerts.factories import cap_payload, json_payload


def rejected(payload: bytes, **kwargs: object) -> AlertRejected:
    with pytest.raises(AlertRejected) as caught:
        parse_alert(payload, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_default_limit_is_256_kib() -> None:
    assert DEFAULT_MAX_BYTES == 256 * 1024
    padded = json_payload(description="雨" * 100_000)
    assert len(padded) > DEFAULT_MAX_BYTES
    problem = rejected(padded)
    assert problem.code is RejectCode.TOO_LARGE
    assert f"over the limit of {DEFAULT_MAX_BYTES} bytes" in problem.reason


def test_limit_is_configurable_and_inclusive() -> None:
    payload = json_payload()
    assert parse_alert(payload, max_bytes=len(payload)).id
    assert rejected(payload, max_bytes=len(payload) - 1).code is RejectCode.TOO_LARGE


def test_utf8_byte_order_mark_is_tolerated_and_dropped_from_raw() -> None:
    for payload in (json_payload(), cap_payload()):
        alert = parse_alert(b"\xef\xbb\xbf" + payload)
        assert alert.raw == payload.decode()


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\xff\xfe{\x00", "UTF-16 (byte-order mark)"),
        (b"\xfe\xff\x00{", "UTF-16 (byte-order mark)"),
        (b"\xff\xfe\x00\x00{\x00\x00\x00", "UTF-32"),
        (b'{"id": "\xe6\x9a"}', "not valid UTF-8: byte 0xe6 at offset 8"),
        (b'{"id": "caf\xe9"}', "byte 0xe9 at offset 11"),
        ('{"id": "暴雨"}'.encode("gbk"), "not valid UTF-8"),
        (b'{\x00"\x00i\x00', "NUL character at offset 1"),
    ],
)
def test_non_utf8_is_rejected_precisely(payload: bytes, words: str) -> None:
    problem = rejected(payload)
    assert problem.code is RejectCode.ENCODING
    assert words in problem.reason


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"", "empty"),
        (b" \n\t", "empty"),
        (b"[1, 2]", "neither a JSON object nor an XML document (starts with '[1, 2]')"),
        (b"hello", "starts with 'hello'"),
        (b"null", "neither"),
    ],
)
def test_unrecognised_payloads(payload: bytes, words: str) -> None:
    problem = rejected(payload)
    assert problem.code is RejectCode.SYNTAX
    assert words in problem.reason


def test_leading_whitespace_is_fine() -> None:
    assert parse_alert(b"\n  " + json_payload()).id
    assert parse_alert(b"\r\n" + cap_payload()).id


def test_declared_format_must_match_the_body() -> None:
    assert parse_alert(json_payload(), expect=PayloadFormat.JSON).id
    problem = rejected(cap_payload(), expect=PayloadFormat.JSON)
    assert problem.code is RejectCode.MEDIA_TYPE
    assert problem.reason == "declared as json but the body is cap"


def test_a_parser_bug_becomes_a_logged_rejection_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(text: str, plan: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(intake, "parse_json", broken)
    with caplog.at_level(logging.ERROR, logger="alerts.intake"):
        problem = rejected(json_payload())
    assert "internal error while parsing (KeyError)" in problem.reason
    assert "internal error" in caplog.text


def test_rejection_renders_field_and_reason() -> None:
    problem = AlertRejected("unknown area '火星'", "areas")
    assert str(problem) == "areas: unknown area '火星'"
    assert repr(problem) == "AlertRejected(\"unknown area '火星'\", field='areas', code='schema')"
    assert str(AlertRejected("payload is empty")) == "payload is empty"


# --- a sent in the future -------------------------------------------------------------------

SHANGHAI = timezone(timedelta(hours=8))
RECEIVED = datetime(2026, 12, 2, 13, 5, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "payload",
    [
        json_payload(sent="2199-01-01T00:00:00+08:00", expires=None),
        cap_payload(sent="2199-01-01T00:00:00+08:00"),
    ],
    ids=["json", "cap"],
)
def test_a_sent_far_in_the_future_is_refused_by_the_system_clock(payload: bytes) -> None:
    problem = rejected(payload)
    assert (problem.field, problem.code) == ("sent", RejectCode.SCHEMA)
    assert problem.reason.startswith("2199-01-01T00:00:00+08:00 is ")
    assert "days ahead of tidegate's clock" in problem.reason
    assert "at most 15 min of clock skew is allowed: check the date and the sender's clock" in (
        problem.reason
    )


@pytest.mark.parametrize("fmt", ["json", "cap"])
def test_clock_skew_up_to_the_bound_is_accepted_and_not_a_second_more(fmt: str) -> None:
    def payload(sent: datetime) -> bytes:
        if fmt == "json":
            return json_payload(sent=sent.isoformat(), expires=None)
        return cap_payload(sent=sent.isoformat())

    assert MAX_CLOCK_SKEW.total_seconds() == 15 * 60  # the documented bound
    edge = RECEIVED + MAX_CLOCK_SKEW
    assert parse_alert(payload(edge), now=RECEIVED).sent == edge
    problem = rejected(payload(edge + timedelta(seconds=1)), now=RECEIVED)
    assert problem.field == "sent"
    assert "15 min ahead of tidegate's clock (2026-12-02T13:05:00+08:00)" in problem.reason
    # The receiving clock is what counts: a drill's virtual clock, or a historical replay.
    assert parse_alert(payload(edge + timedelta(days=3)), now=RECEIVED + timedelta(days=3)).id
    old = payload(datetime(2024, 9, 20, 5, 30, tzinfo=SHANGHAI))
    assert parse_alert(old, now=RECEIVED).id
