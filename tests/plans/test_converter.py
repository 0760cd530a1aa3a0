"""Plans, responses and diffs travel as workflow input and results: they must survive Temporal's
default data converter unchanged."""

from __future__ import annotations

from typing import Any

from temporalio.converter import DataConverter

from plans.model import CITYWIDE, ActiveWarning, Diff, Hazard, Level, Plan, Response
from plans.rules import diff, respond


async def _round_trip(value: Any, kind: type[Any]) -> Any:
    converter = DataConverter.default
    payloads = await converter.encode([value])
    return (await converter.decode(payloads, [kind]))[0]


async def test_bundled_plan_round_trips(plan: Plan) -> None:
    assert await _round_trip(plan, Plan) == plan


async def test_response_and_diff_round_trip(plan: Plan) -> None:
    before = respond([ActiveWarning(Hazard.RAINSTORM, Level.BLUE, (CITYWIDE,))], plan)
    after = respond(
        [
            ActiveWarning(Hazard.WIND, Level.ORANGE, (CITYWIDE,)),
            ActiveWarning(Hazard.TIDE, Level.YELLOW, ("pudong", "jinshan")),
        ],
        plan,
    )
    change = diff(after, before)
    assert change.stand_down and change.keep and change.level_changes
    assert await _round_trip(after, Response) == after
    assert await _round_trip(change, Diff) == change
