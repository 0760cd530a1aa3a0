"""``POST /alerts`` answers with the response's decision: the status code and the body."""

from __future__ import annotations

import httpx
import pytest

from alerts.http import DECISION_STATUS, SubmitResult, create_app
from plans.warning import Alert
from tests.alerts.factories import json_payload

TOKEN = "s3cret-duty-token"
JSON = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


async def _post(decision: str, reason: str = "why") -> httpx.Response:
    async def submit(alert: Alert) -> SubmitResult:
        warning = "SH-0" if decision == "apply" else None
        return SubmitResult("response-sh", "handed to response-sh", decision, reason, None, warning)

    async def lookup(alert_id: str) -> None:
        return None

    app = create_app(submit, lookup, TOKEN, 4096)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as client:
        return await client.post(
            "/alerts", content=json_payload(id="SH/1", expires=None), headers=JSON
        )


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        ("apply", 200),
        ("duplicate", 200),
        ("stale", 409),
        ("rejected", 409),
        ("orphaned", 409),
        ("held", 202),
        ("pending", 202),
    ],
)
async def test_the_status_says_what_was_decided(decision: str, status: int) -> None:
    answer = await _post(decision, f"because {decision}")
    assert answer.status_code == status == DECISION_STATUS[decision]
    body = answer.json()
    assert (body["decision"], body["reason"]) == (decision, f"because {decision}")
    assert body["workflow_id"] == "response-sh"
    assert body["warning"] == ("SH-0" if decision == "apply" else None)
    if status == 202:  # queued: where to look the decision up, the id escaped
        assert answer.headers["location"] == "/alerts/SH%2F1"
    else:
        assert "location" not in answer.headers


async def test_an_unknown_decision_is_queued() -> None:
    answer = await _post("something-new")
    assert answer.status_code == 202


async def test_the_location_of_an_id_with_a_slash_resolves() -> None:
    async def submit(alert: Alert) -> SubmitResult:
        return SubmitResult("response-sh")

    async def lookup(alert_id: str) -> dict[str, str] | None:
        return {"id": alert_id} if alert_id == "SH/1" else None

    app = create_app(submit, lookup, TOKEN, 4096)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tidegate") as client:
        posted = await client.post(
            "/alerts", content=json_payload(id="SH/1", expires=None), headers=JSON
        )
        found = await client.get(posted.headers["location"], headers=JSON)
    assert (found.status_code, found.json()) == (200, {"id": "SH/1"})
