"""The response engine (plans/engine.py): the steps the workflow and the drills share."""

from __future__ import annotations

from datetime import timedelta

from plans import engine
from plans.ledger import AlertLedger, Decision
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level
from plans.rules import respond
from plans.warning import Kind
from tests.plans.test_ledger import T0, msg

PLAN = load_plan()


def test_replay_applies_a_warning_like_the_workflow_does() -> None:
    ledger = AlertLedger()
    response = engine.replay(ledger, PLAN, msg("a1", level=Level.ORANGE), T0)
    want = respond([ActiveWarning(Hazard.RAINSTORM, Level.ORANGE, ("pudong",))], PLAN)
    assert response == want


def test_replay_ends_warnings_that_expired_before_the_next_message() -> None:
    """The drills' own copy of this loop skipped expiry: a lapsed warning stayed in force."""
    ledger = AlertLedger()
    lapses = T0 + timedelta(minutes=30)
    engine.replay(ledger, PLAN, msg("a1", expires=lapses), T0)
    later = T0 + timedelta(hours=1)
    response = engine.replay(ledger, PLAN, msg("w1", 59, areas=("minhang",)), later)
    assert response.levels.keys() == {"minhang"}


def test_replay_orphans_held_messages_whose_reference_never_came() -> None:
    """The drills' copy never orphaned held messages either."""
    ledger = AlertLedger()
    engine.replay(ledger, PLAN, msg("u1", kind=Kind.UPDATE, refs=("never",)), T0)
    assert [a.id for a in ledger.held_alerts()] == ["u1"]
    later = T0 + timedelta(seconds=ledger.hold_seconds + 1)
    engine.replay(ledger, PLAN, msg("w1", 1, areas=("minhang",)), later)
    assert ledger.held_alerts() == ()


def test_receive_reports_released_messages_after_the_one_that_released_them() -> None:
    ledger = AlertLedger()
    held = engine.receive(ledger, msg("u1", 10, Kind.UPDATE, ("a1",), Level.RED), T0)
    assert [(d.outcome.decision, d.on_arrival) for d in held] == [(Decision.HELD, True)]
    decided = engine.receive(ledger, msg("a1"), T0)
    assert [(d.outcome.alert_id, d.on_arrival) for d in decided] == [("a1", True), ("u1", False)]
    response, change = engine.decide(ledger, PLAN, None)
    assert response.levels == {
        "pudong": respond([ActiveWarning(Hazard.RAINSTORM, Level.RED, ("pudong",))], PLAN).levels[
            "pudong"
        ]
    }
    assert change.dispatch and not change.stand_down
