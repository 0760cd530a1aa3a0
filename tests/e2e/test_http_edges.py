"""The HTTP API as ``tidegate serve`` runs it (uvicorn, real sockets) at the edges of a request.

- A body that stalls half-way gets 408 after the read timeout and its connection is closed
  (issue #9 item 10: before, the connection was held open for ever).
- Refusals the headers decide (415, a declared length over the limit) keep the bytes that
  arrived, up to the limit (before: an empty payload in ``rejections``).
"""

from __future__ import annotations

import asyncio

import pytest

from config.settings import Settings
from tests.e2e.harness import eventually, prepare
from tests.e2e.intake import json_alert, rejections
from tests.e2e.test_intake_http import JSON, TOKEN, api_settings, running_api

pytestmark = pytest.mark.e2e
__all__ = ["api_settings"]  # the fixture, shared with test_intake_http

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def quick_settings(api_settings: Settings) -> Settings:
    """The API's settings with a short read timeout and a small size limit."""
    return api_settings.model_copy(
        update={"http_read_timeout_seconds": 0.5, "max_alert_bytes": 2048}
    )


async def exchange(settings: Settings, request: bytes) -> bytes:
    """Send ``request`` on a raw socket and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection(settings.http_host, settings.http_port)
    try:
        writer.write(request)
        await writer.drain()
        # Not a measure of anything: only keeps a regression from hanging the suite.
        return await asyncio.wait_for(reader.read(), timeout=60)
    finally:
        writer.close()


def head(content_type: str, length: int) -> bytes:
    return (
        "POST /alerts HTTP/1.1\r\n"
        "Host: tidegate\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@SQLITE_ONLY
async def test_a_stalled_body_gets_408_and_the_connection_is_closed(
    quick_settings: Settings,
) -> None:
    s = quick_settings
    await prepare(s)
    body = json_alert("stalled-1")
    half = body[: len(body) // 2]
    async with running_api(s):
        # read() returns once the server has closed the connection: that is the point.
        answer = await exchange(s, head("application/json", len(body)) + half)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"did not arrive within 0.5 s" in answer

        async def recorded() -> list[bytes]:
            return [r.payload for r in await rejections(s)]

        assert await eventually(recorded) == [half]


@SQLITE_ONLY
async def test_refusals_decided_by_the_headers_keep_the_bytes_that_arrived(
    quick_settings: Settings,
) -> None:
    s = quick_settings
    await prepare(s)
    body = json_alert("wrong-type-1")
    huge = b'{"id": "' + b"x" * 10_000 + b'"}'
    async with running_api(s) as http:
        response = await http.post(
            "/alerts", content=body, headers={**JSON, "Content-Type": "text/plain"}
        )
        assert response.status_code == 415
        response = await http.post("/alerts", content=huge, headers=JSON)
        assert response.status_code == 413

        async def both() -> list[bytes] | None:
            found = [r.payload for r in await rejections(s)]
            return found if len(found) == 2 else None

        assert await eventually(both) == [body, huge[:2048]]
