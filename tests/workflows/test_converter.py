"""tidegate's data converter writes exactly the SDK's bytes and reads them back the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.converter import DataConverter

from activities.records import RecordTasksInput
from plans.ledger import AlertLedger
from plans.loader import load_plan
from plans.model import CITYWIDE, ActiveWarning, Hazard, Level
from plans.rules import diff, respond
from plans.warning import Alert, Kind, Status
from workflows.converter import DATA_CONVERTER
from workflows.types import ResponseInput, ResponseState, TaskInput

PLAN = load_plan()
NOW = datetime(2026, 7, 24, 8, 40, tzinfo=UTC)
STORM = respond([ActiveWarning(h, Level.RED, (CITYWIDE,)) for h in Hazard], PLAN)
SDK = DataConverter.default.payload_converter
OURS = DATA_CONVERTER.payload_converter


def _alert(alert_id: str, kind: Kind = Kind.ALERT, refs: tuple[str, ...] = ()) -> Alert:
    return Alert(
        id=alert_id,
        sender="test",
        sent=NOW,
        status=Status.ACTUAL,
        kind=kind,
        references=refs,
        hazard=Hazard.RAINSTORM,
        level=Level.ORANGE,
        areas=("pudong",),
        expires=NOW + timedelta(hours=3),
    )


def _state() -> ResponseState:
    ledger = AlertLedger()
    ledger.accept(_alert("a1"), NOW)
    ledger.accept(_alert("u1", Kind.UPDATE, ("a1",)), NOW)
    ledger.accept(_alert("held", Kind.UPDATE, ("unknown",)), NOW)
    state = ResponseState(response_id="r-1", ledger=ledger, response=STORM)
    state.inbox.append(_alert("a2"))
    return state


VALUES: list[tuple[Any, type]] = [
    (PLAN, type(PLAN)),
    (STORM, type(STORM)),
    (diff(respond((), PLAN), STORM), type(diff(respond((), PLAN), STORM))),
    (RecordTasksInput("r-1", False, PLAN.version, STORM.tasks, NOW), RecordTasksInput),
    (TaskInput("r-1/t", "r-1", "response-x", STORM.tasks[0], "h", True, NOW, 60.0), TaskInput),
    (ResponseInput(region="x", plan=PLAN, time_scale=600.0, state=_state()), ResponseInput),
    (_alert("a1"), Alert),
]


@pytest.mark.parametrize(("value", "hint"), VALUES, ids=[h.__name__ for _, h in VALUES])
def test_same_bytes_as_the_sdk_and_the_same_value_back(value: Any, hint: type) -> None:
    (ours,) = OURS.to_payloads([value])
    (sdk,) = SDK.to_payloads([value])
    assert ours.data == sdk.data
    assert ours.metadata == sdk.metadata
    assert OURS.from_payloads([sdk], [hint]) == [value]
    assert SDK.from_payloads([ours], [hint]) == [value]


@dataclass(frozen=True)
class _Pair:
    name: str
    when: datetime


def test_bad_input_is_refused_like_the_sdk_refuses_it() -> None:
    (good,) = SDK.to_payloads([_Pair("x", NOW)])
    (missing,) = SDK.to_payloads([{"name": "x"}])
    (not_a_dict,) = SDK.to_payloads([["x"]])
    (wrong,) = SDK.to_payloads([{"name": "x", "when": 5}])
    assert OURS.from_payloads([good], [_Pair]) == [_Pair("x", NOW)]
    for payload in (missing, not_a_dict, wrong):
        with pytest.raises(Exception) as ours:
            OURS.from_payloads([payload], [_Pair])
        with pytest.raises(Exception) as sdk:
            SDK.from_payloads([payload], [_Pair])
        assert type(ours.value) is type(sdk.value)
