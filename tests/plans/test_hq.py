"""The HQ's own decisions (plans/hq.py) and how the engine combines them with the signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plans import engine
from plans.hq import HqDecision, HqKind, HqLedger, HqOutcome, problem
from plans.ledger import AlertLedger
from plans.loader import load_plan
from plans.model import CITYWIDE, ActiveWarning, Hazard, Level, Response, ResponseLevel
from plans.rules import respond
from plans.warning import Alert, Kind, Status

PLAN = load_plan()
DISTRICTS = tuple(d.id for d in PLAN.districts)
T0 = datetime(2021, 7, 25, 12, 0, tzinfo=UTC)


def decision(
    decision_id: str,
    kind: HqKind,
    level: ResponseLevel | None = None,
    areas: tuple[str, ...] = (CITYWIDE,),
    minute: int = 0,
    **more: object,
) -> HqDecision:
    return HqDecision(
        id=decision_id,
        decided_by="市防汛指挥部",
        sent=T0 + timedelta(minutes=minute),
        kind=kind,
        level=level,
        areas=areas,
        **more,  # type: ignore[arg-type]
    )


def signals(*warnings: tuple[Hazard, Level, str]) -> AlertLedger:
    ledger = AlertLedger()
    for n, (hazard, level, area) in enumerate(warnings):
        alert = Alert(
            id=f"w{n}",
            sender="上海中心气象台",
            sent=T0 - timedelta(hours=1, minutes=-n),
            status=Status.ACTUAL,
            kind=Kind.ALERT,
            hazard=hazard,
            level=level,
            areas=(area,),
        )
        engine.receive(ledger, alert, T0)
    return ledger


def decide(ledger: AlertLedger, *decisions: HqDecision) -> tuple[HqLedger, Response]:
    hq = HqLedger()
    for d in decisions:
        hq.accept(d)
    response, _ = engine.decide(ledger, PLAN, None, hq)
    return hq, response


def test_a_hold_keeps_the_city_below_what_the_signals_give() -> None:
    """In-Fa: a tide orange alone gives II; the HQ held the city at III."""
    ledger = signals((Hazard.TIDE, Level.ORANGE, CITYWIDE))
    automatic = respond(ledger.active(), PLAN)
    assert automatic.levels[CITYWIDE] is ResponseLevel.II
    _, held = decide(ledger, decision("d1", HqKind.HOLD, ResponseLevel.III))
    assert held.levels[CITYWIDE] is ResponseLevel.III
    assert held.automatic[CITYWIDE] is ResponseLevel.II
    assert all(t.response_level.rank <= ResponseLevel.III.rank for t in held.tasks)
    assert {t.id for t in held.tasks} < {t.id for t in automatic.tasks}


def test_any_red_signal_raises_above_a_hold() -> None:
    ledger = signals((Hazard.RAINSTORM, Level.RED, CITYWIDE))
    _, response = decide(ledger, decision("d1", HqKind.HOLD, ResponseLevel.IV))
    automatic = respond(ledger.active(), PLAN)
    assert (response.levels, response.tasks) == (automatic.levels, automatic.tasks)
    assert response.automatic == automatic.levels  # the signal wins


def test_the_hq_ends_a_response_while_a_weak_signal_is_up() -> None:
    """Pulasan: a tide blue never lifted kept every district at IV after the HQ ended."""
    ledger = signals((Hazard.TIDE, Level.BLUE, CITYWIDE))
    _, response = decide(ledger, decision("end", HqKind.END))
    assert response.levels == {} and response.tasks == ()
    assert response.automatic[CITYWIDE] is ResponseLevel.IV


def test_a_district_response_ahead_of_any_signal_dispatches_its_hazards_tasks() -> None:
    ledger = signals()
    start = decision("d1", HqKind.START, ResponseLevel.III, ("pudong",), hazards=(Hazard.WIND,))
    _, response = decide(ledger, start)
    assert response.levels == {"pudong": ResponseLevel.III}
    want = respond([ActiveWarning(Hazard.WIND, Level.YELLOW, ("pudong",))], PLAN)
    assert response.tasks == want.tasks
    assert response.automatic == {}


def test_districts_follow_a_citywide_declaration_unless_they_have_their_own() -> None:
    ledger = signals((Hazard.RAINSTORM, Level.BLUE, CITYWIDE))
    _, response = decide(
        ledger,
        decision("city", HqKind.RAISE, ResponseLevel.III, minute=1),
        decision("pd", HqKind.RAISE, ResponseLevel.II, ("pudong",), minute=2),
    )
    assert response.levels[CITYWIDE] is ResponseLevel.III
    assert response.levels["pudong"] is ResponseLevel.II
    assert response.levels["minhang"] is ResponseLevel.III
    assert response.automatic["minhang"] is ResponseLevel.IV


def test_a_withdraw_gives_the_areas_back_to_the_signals() -> None:
    ledger = signals((Hazard.TIDE, Level.ORANGE, CITYWIDE))
    hq, response = decide(
        ledger,
        decision("hold", HqKind.HOLD, ResponseLevel.III),
        decision("undo", HqKind.WITHDRAW, areas=(), references=("hold",), minute=5),
    )
    assert hq.active() == ()
    assert response == respond(ledger.active(), PLAN)


def test_the_ledger_keeps_the_latest_declaration_and_drops_copies() -> None:
    hq = HqLedger()
    later = decision("b", HqKind.RAISE, ResponseLevel.II, minute=10)
    assert hq.accept(later).outcome is HqOutcome.APPLY
    older = decision("a", HqKind.LOWER, ResponseLevel.IV, minute=5)
    assert hq.accept(older).outcome is HqOutcome.STALE
    assert hq.accept(later).outcome is HqOutcome.DUPLICATE
    copy = decision("b2", HqKind.RAISE, ResponseLevel.II, minute=10)
    assert hq.accept(copy).outcome is HqOutcome.DUPLICATE
    missing = decision("w", HqKind.WITHDRAW, areas=(), references=("nope",))
    assert hq.accept(missing).outcome is HqOutcome.REJECTED
    assert [d.id for d in hq.active()] == ["b"]


def test_every_channel_refuses_the_same_malformed_decisions() -> None:
    assert problem(decision("x", HqKind.RAISE, None), DISTRICTS) is not None
    assert problem(decision("x", HqKind.END, ResponseLevel.IV), DISTRICTS) is not None
    assert problem(decision("x", HqKind.HOLD, ResponseLevel.IV, ("atlantis",)), DISTRICTS)
    assert problem(decision("x", HqKind.HOLD, ResponseLevel.IV, (CITYWIDE, "pudong")), DISTRICTS)
    assert problem(decision("x", HqKind.WITHDRAW, areas=()), DISTRICTS) is not None
    assert problem(decision("x", HqKind.HOLD, ResponseLevel.IV), DISTRICTS) is None


def test_a_raise_is_a_floor_and_higher_signals_still_raise_the_area() -> None:
    ledger = signals((Hazard.TIDE, Level.ORANGE, CITYWIDE))  # automatic II
    _, raised = decide(ledger, decision("r1", HqKind.RAISE, ResponseLevel.III))
    assert raised.levels[CITYWIDE] is ResponseLevel.II
    _, held = decide(ledger, decision("h1", HqKind.HOLD, ResponseLevel.III))
    assert held.levels[CITYWIDE] is ResponseLevel.III
