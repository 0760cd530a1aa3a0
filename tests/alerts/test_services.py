"""``GET /alerts/{id}``'s view of a stored warning: the decision that stands, and later changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.services import warning_view
from store.models import WarningRecord
from store.queries import Decided

AT = datetime(2026, 9, 20, 5, 30, tzinfo=UTC)  # rows are read back aware (store.types)


def _record(decision: str, warning_id: str = "SH-1", kind: str = "update") -> WarningRecord:
    return WarningRecord(
        id=warning_id,
        response_id="response-shanghai-1234abcd",
        kind=kind,
        hazard="rainstorm",
        level="yellow",
        areas=["fengxian"],
        status="actual",
        decision=decision,
        sent=AT,
        recorded_at=AT,
        headline="",
    )


def _decided(decision: str, arrival: bool = True, position: int = 1, **extra: object) -> Decided:
    fields: dict[str, object] = {
        "position": position,
        "response_id": "response-shanghai-1234abcd",
        "warning_id": "SH-1",
        "decision": decision,
        "reason": f"because {decision}",
        "warning": "",
        "references": (),
        "arrival": arrival,
        "at": AT,
    }
    return Decided(**(fields | extra))  # type: ignore[arg-type]


# (decision, on arrival?) in the order they were logged
@pytest.mark.parametrize(
    ("decisions", "stands"),
    [
        ([("apply", True)], "apply"),
        ([("apply", True), ("duplicate", True)], "apply"),  # a re-send changes nothing
        ([("held", True), ("apply", False)], "apply"),  # released
        ([("held", True), ("orphaned", False)], "orphaned"),
        ([("held", True)], "held"),
        ([("held", True), ("duplicate", True)], "held"),  # a re-send of a held id: still held
        ([("held", True), ("duplicate", True), ("duplicate", False)], "duplicate"),  # released
        ([("duplicate", True)], "duplicate"),  # same content under a new id
    ],
)
def test_the_decision_that_stands(decisions: list[tuple[str, bool]], stands: str) -> None:
    logged = [_decided(d, arrival, i) for i, (d, arrival) in enumerate(decisions, 1)]
    view = warning_view(_record(decisions[0][0]), logged)
    assert view["decision"] == stands
    assert view["reason"] == f"because {stands}"
    assert [d["decision"] for d in view["decisions"]] == [d for d, _ in decisions]


def test_times_are_iso_8601_with_their_offset() -> None:
    view = warning_view(_record("apply"), [_decided("apply")])
    assert view["sent"] == "2026-09-20T05:30:00+00:00"
    assert view["decisions"][0]["at"] == "2026-09-20T05:30:00+00:00"


def test_later_updates_and_cancels_are_the_effect_on_the_warning() -> None:
    original = _decided("apply", warning="SH-1")
    update = _decided("apply", position=2, warning_id="SH-2", warning="SH-1", references=("SH-1",))
    cancel = _decided("apply", position=3, warning_id="SH-3", warning="SH-1")
    view = warning_view(
        _record("apply", kind="alert"),
        [original],
        [
            (update, _record("apply", "SH-2", "update")),
            (cancel, _record("apply", "SH-3", "cancel")),
        ],
    )
    assert [(c["id"], c["kind"]) for c in view["changed_by"]] == [
        ("SH-2", "update"),
        ("SH-3", "cancel"),
    ]
    at = AT.isoformat()
    assert view["effect"] == f"updated by SH-2 at {at}; cancelled by SH-3 at {at}"
    assert view["warning"] == "SH-1"
