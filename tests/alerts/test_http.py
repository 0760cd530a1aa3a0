"""The HTTP intake app with fake submit, lookup and rejection recorder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.service import RPCError, RPCStatusCode

from alerts.http import SubmitResult, create_app
from plans.warning import Alert
from tests.alerts.factories import CAP_SAMPLES, SAMPLES, json_payload, mutated

TOKEN = "s3cret-duty-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
CAP = {**AUTH, "Content-Type": "application/cap+xml"}


@dataclass
class Fakes:
    submitted: list[Alert] = field(default_factory=list)
    rejected: list[tuple[bytes, str, str]] = field(default_factory=list)
    fail_submit: bool = False
    fail_record: bool = False
    submit_error: Exception | None = None

    async def submit(self, alert: Alert) -> SubmitResult:
        if self.fail_submit:
            raise ConnectionError("temporal is down")
        if self.submit_error is not None:
            raise self.submit_error
        self.submitted.append(alert)
        return SubmitResult(workflow_id=f"response-sh-{alert.route}")

    async def lookup(self, alert_id: str) -> dict[str, Any] | None:
        known = {a.id: a.to_json() for a in self.submitted}
        return known.get(alert_id)

    async def on_reject(self, raw: bytes, reason: str, channel: str) -> None:
        if self.fail_record:
            raise OSError("database is down")
        self.rejected.append((raw, reason, channel))


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def app(fakes: Fakes) -> FastAPI:
    return create_app(fakes.submit, fakes.lookup, TOKEN, 4096, on_reject=fakes.on_reject)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as client:
        yield client


# --- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
async def test_missing_or_wrong_token_is_401_and_not_recorded(
    client: httpx.AsyncClient, fakes: Fakes, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/alerts", content=json_payload(), headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert fakes.submitted == [] and fakes.rejected == []
    assert (await client.get("/alerts/x", headers=headers)).status_code == 401


def test_an_empty_token_is_refused_at_start_up(fakes: Fakes) -> None:
    with pytest.raises(ValueError, match="token"):
        create_app(fakes.submit, fakes.lookup, "", 4096)


# --- accepting ------------------------------------------------------------------------------


async def test_json_warning_is_accepted_and_handed_on(
    client: httpx.AsyncClient, fakes: Fakes
) -> None:
    response = await client.post("/alerts", content=json_payload(), headers=JSON)
    assert response.status_code == 202
    body = response.json()
    assert body["id"] == "SH-MET-2024-0920-RS-001"
    assert body["route"] == "live"
    assert body["workflow_id"] == "response-sh-live"
    assert body["areas"] == ["pudong"]
    assert [a.id for a in fakes.submitted] == [body["id"]]


async def test_cap_exercise_is_routed_as_a_drill(client: httpx.AsyncClient, fakes: Fakes) -> None:
    payload = (SAMPLES / "tide_yellow_exercise.xml").read_bytes()
    response = await client.post("/alerts", content=payload, headers=CAP)
    assert response.status_code == 202
    assert response.json()["route"] == "drill"
    assert fakes.submitted[0].raw == payload.decode()


@pytest.mark.parametrize("media", ["application/xml", "text/xml; charset=UTF-8"])
async def test_other_xml_media_types_are_accepted(client: httpx.AsyncClient, media: str) -> None:
    payload = (SAMPLES / "rainstorm_yellow_update.xml").read_bytes()
    response = await client.post(
        "/alerts", content=payload, headers={**AUTH, "Content-Type": media}
    )
    assert response.status_code == 202
    assert response.json()["kind"] == "update"


async def test_test_status_is_logged_and_ignored(client: httpx.AsyncClient, fakes: Fakes) -> None:
    response = await client.post(
        "/alerts", content=(SAMPLES / "test_message.xml").read_bytes(), headers=CAP
    )
    assert response.status_code == 200
    assert response.json()["route"] == "ignored"
    assert response.json()["workflow_id"] is None
    assert fakes.submitted == []


async def test_failed_hand_off_is_503_so_the_sender_retries(
    client: httpx.AsyncClient, fakes: Fakes
) -> None:
    fakes.fail_submit = True
    response = await client.post("/alerts", content=json_payload(), headers=JSON)
    assert response.status_code == 503
    assert "retry" in response.json()["detail"]
    assert fakes.rejected == []


@pytest.mark.parametrize(
    "error",
    [
        RPCError("down", RPCStatusCode.UNAVAILABLE, b""),
        RPCError("slow", RPCStatusCode.DEADLINE_EXCEEDED, b""),
        TimeoutError(),
    ],
    ids=["unavailable", "deadline", "timeout"],
)
async def test_an_outage_behind_intake_is_503(
    client: httpx.AsyncClient, fakes: Fakes, error: Exception
) -> None:
    fakes.submit_error = error
    response = await client.post("/alerts", content=json_payload(), headers=JSON)
    assert response.status_code == 503
    assert fakes.rejected == []


@pytest.mark.parametrize(
    "error",
    [
        UnicodeEncodeError("utf-8", "x/\ud800", 2, 3, "surrogates not allowed"),
        RPCError("bad id", RPCStatusCode.INVALID_ARGUMENT, b""),
        ValueError("payload too large for Temporal"),
    ],
    ids=["unencodable", "invalid-argument", "value"],
)
async def test_a_hand_off_that_can_never_succeed_is_refused_not_503(
    client: httpx.AsyncClient, fakes: Fakes, error: Exception
) -> None:
    """Retrying would fail the same way for ever: the sender must not be told to retry."""
    fakes.submit_error = error
    content = json_payload()
    response = await client.post("/alerts", content=content, headers=JSON)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"cannot be handed on ({type(error).__name__}")
    ((raw, reason, channel),) = fakes.rejected
    assert (raw, channel) == (content, "http")
    assert reason == response.json()["detail"]


# --- rejecting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (json_payload(), {**AUTH, "Content-Type": "text/plain"}, 415, "media_type"),
        (json_payload(), {**AUTH}, 415, "media_type"),
        (json_payload(), {**AUTH, "Content-Type": "application/json; charset=gb2312"}, 415, None),
        ((SAMPLES / "test_message.xml").read_bytes(), JSON, 415, "media_type"),
        (b'{"id": ', JSON, 400, "syntax"),
        (b'{"id": "\xff"}', JSON, 400, "encoding"),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", CAP, 400, "syntax"),
        (json_payload(areas=["火星"]), JSON, 422, "schema"),
        (json_payload(level="purple"), JSON, 422, "schema"),
        (b"{" + b" " * 5000 + b"}", JSON, 413, "too_large"),
    ],
)
async def test_rejections_have_status_reason_and_are_recorded(
    client: httpx.AsyncClient,
    fakes: Fakes,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    response = await client.post("/alerts", content=content, headers=headers)
    assert response.status_code == status
    body = response.json()
    assert body["detail"]
    if code:
        assert body["code"] == code
    assert fakes.submitted == []
    ((raw, reason, channel),) = fakes.rejected
    assert channel == "http"
    assert body["detail"] in reason
    assert raw == content[:4096]  # also when the headers alone decided (415, 413)


async def test_rejection_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/alerts", content=json_payload(areas=["火星"]), headers=JSON)
    assert response.json()["field"] == "areas"
    assert "火星" in response.json()["detail"]


async def test_streamed_body_over_the_limit_is_413_without_reading_it_all(
    client: httpx.AsyncClient, fakes: Fakes
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "'
        for _ in range(100):
            yield b"x" * 1000

    response = await client.post("/alerts", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert len(fakes.rejected[0][0]) == 4096


async def test_a_stalled_body_is_408_and_keeps_what_arrived(fakes: Fakes) -> None:
    app = create_app(
        fakes.submit, fakes.lookup, TOKEN, 4096, on_reject=fakes.on_reject, read_timeout=0.2
    )
    never = asyncio.Event()

    async def half_a_body() -> AsyncIterator[bytes]:
        yield b'{"id": "stalled", '
        await never.wait()  # the sender goes quiet

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as client:
        response = await client.post("/alerts", content=half_a_body(), headers=JSON)
    assert response.status_code == 408
    assert response.json()["code"] == "timeout"
    assert response.headers["connection"] == "close"
    ((raw, reason, _),) = fakes.rejected
    assert raw == b'{"id": "stalled", '
    assert "did not arrive within 0.2 s (18 bytes read)" in reason


async def test_a_failing_recorder_does_not_hide_the_rejection(
    client: httpx.AsyncClient, fakes: Fakes
) -> None:
    fakes.fail_record = True
    response = await client.post("/alerts", content=b"{", headers=JSON)
    assert response.status_code == 400


# --- reading --------------------------------------------------------------------------------


async def test_get_returns_what_lookup_knows(client: httpx.AsyncClient) -> None:
    await client.post("/alerts", content=json_payload(), headers=JSON)
    found = await client.get("/alerts/SH-MET-2024-0920-RS-001", headers=AUTH)
    assert found.status_code == 200
    assert found.json()["hazard"] == "rainstorm"
    missing = await client.get("/alerts/nope", headers=AUTH)
    assert missing.status_code == 404


async def test_openapi_documents_both_formats_and_bearer_auth(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/alerts"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "application/cap+xml",
        "application/xml",
    }
    assert {"202", "200", "400", "401", "408", "413", "415", "422", "503"} <= set(post["responses"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "/alerts/{alert_id}" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=mutated([json_payload(), *CAP_SAMPLES]) | st.binary(max_size=512),
    media=st.sampled_from(
        [
            "application/json",
            "application/cap+xml",
            "text/xml",
            "text/plain",
            "",
            "application/json; charset=latin-1",
        ]
    ),
)
def test_no_request_body_ever_causes_a_server_error(body: bytes, media: str) -> None:
    fakes = Fakes()
    app = create_app(fakes.submit, fakes.lookup, TOKEN, 4096, on_reject=fakes.on_reject)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as client:
            headers = {**AUTH, "Content-Type": media}
            return await client.post("/alerts", content=body, headers=headers)

    response = asyncio.run(post())
    assert response.status_code in (200, 202, 400, 413, 415, 422)
    assert response.json()["detail"] is not None
    assert len(fakes.rejected) == (response.status_code >= 400)
