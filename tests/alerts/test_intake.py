"""parse_alert: size limit, encoding, format sniffing, and the never-crash guarantee."""

from __future__ import annotations

import logging

import pytest

from alerts import intake
from alerts.errors import AlertRejected, RejectCode
from alerts.intake import DEFAULT_MAX_BYTES, PayloadFormat, parse_alert
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
