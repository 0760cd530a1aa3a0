"""Times keep their instant end to end: a CAP ``sent`` in +08:00 is served back unchanged.

On SQLite the ``warnings`` row used to keep the digits ``13:05:00`` of ``13:05:00+08:00`` and
``GET /alerts/{id}`` served them as ``13:05:00+00:00``, eight hours wrong. Real Temporal dev
server, Kafka, database (SQLite and PostgreSQL), the production worker and the HTTP API as
``tidegate serve`` runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from config.settings import Settings
from devstack._proc import free_ports
from tests.e2e.harness import eventually, prepare, running_worker
from tests.e2e.intake import ago, cap_alert, warnings
from tests.e2e.test_intake_http import AUTH, CAP, TOKEN, running_api

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_settings(e2e_settings: Settings) -> Settings:
    """The test's settings with a port and a token of its own."""
    return e2e_settings.model_copy(update={"http_port": free_ports(1)[0], "api_token": TOKEN})


async def test_a_cap_time_in_plus_eight_is_served_back_as_the_same_instant(
    api_settings: Settings,
) -> None:
    s = api_settings
    await prepare(s)
    sent = ago(3600)  # Shanghai time, e.g. 2026-12-02T21:05:00+08:00
    assert sent.utcoffset() == timedelta(hours=8)
    async with running_worker(s), running_api(s) as http:
        before = datetime.now(UTC)
        posted = await http.post("/alerts", content=cap_alert("tz-cap-1", sent=sent), headers=CAP)
        assert posted.status_code in (200, 202), posted.text
        found = await eventually(lambda: _shown(http, "tz-cap-1"))
        after = datetime.now(UTC)

    assert found is not None
    served = datetime.fromisoformat(found["sent"])
    assert served == sent, (found["sent"], sent.isoformat())
    assert served.utcoffset() is not None
    # An instant, not a speed: a lost +08:00 would put these eight hours off the call.
    off = timedelta(hours=1)
    recorded = datetime.fromisoformat(found["recorded_at"])
    assert before - off <= recorded <= after + off
    for decision in found["decisions"]:
        assert before - off <= datetime.fromisoformat(decision["at"]) <= after + off

    row = (await warnings(s))["tz-cap-1"]
    assert row.sent == sent
    assert row.sent.utcoffset() == timedelta(0)  # read back aware, as UTC


async def _shown(http: httpx.AsyncClient, alert_id: str) -> dict[str, Any] | None:
    got = await http.get(f"/alerts/{alert_id}", headers=AUTH)
    return got.json() if got.status_code == 200 else None
