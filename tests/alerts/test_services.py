"""``GET /alerts/{id}``'s view of a stored warning: the decision that stands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.services import warning_view
from store.models import WarningRecord

AT = datetime(2026, 9, 20, 5, 30)  # naive, as SQLite returns it


def _record(decision: str) -> WarningRecord:
    return WarningRecord(
        id="SH-1",
        response_id="response-shanghai-1234abcd",
        kind="update",
        hazard="rainstorm",
        level="yellow",
        areas=["fengxian"],
        status="actual",
        decision=decision,
        sent=AT,
        recorded_at=AT,
        headline="",
    )


@pytest.mark.parametrize(
    ("decisions", "stands"),
    [
        (["apply"], "apply"),
        (["apply", "duplicate"], "apply"),  # a re-send does not change the first decision
        (["held", "apply"], "apply"),  # released
        (["held", "orphaned"], "orphaned"),
        (["held"], "held"),
        (["duplicate"], "duplicate"),  # same content under a new id
    ],
)
def test_the_decision_that_stands(decisions: list[str], stands: str) -> None:
    view = warning_view(_record(decisions[0]), [(d, AT) for d in decisions])
    assert view["decision"] == stands
    assert [d["decision"] for d in view["decisions"]] == decisions


def test_times_are_utc() -> None:
    view = warning_view(_record("apply"), [("apply", AT)])
    assert view["sent"] == datetime(2026, 9, 20, 5, 30, tzinfo=UTC).isoformat()
    assert view["decisions"][0]["at"].endswith("+00:00")
