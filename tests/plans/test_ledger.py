"""The ledger's duplicate, ordering and held-message rules (plans/ledger.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.converter import DataConverter

from plans.ledger import ORDER_BY_REFERENCE, AlertLedger, Decision, Outcome
from plans.model import ActiveWarning, Hazard, Level
from plans.warning import MAX_CLOCK_SKEW, Alert, Kind, Status

T0 = datetime(2024, 9, 20, 5, 30, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
"""After every message the tests send (they are sent up to 40 minutes after T0)."""


def msg(
    alert_id: str,
    minute: int = 0,
    kind: Kind = Kind.ALERT,
    refs: tuple[str, ...] = (),
    level: Level = Level.BLUE,
    *,
    status: Status = Status.ACTUAL,
    areas: tuple[str, ...] = ("pudong",),
    expires: datetime | None = None,
    headline: str = "暴雨预警",
) -> Alert:
    """A message sent ``minute`` minutes after T0."""
    return Alert(
        id=alert_id,
        sender="上海中心气象台",
        sent=T0 + timedelta(minutes=minute),
        status=status,
        kind=kind,
        references=refs,
        hazard=Hazard.RAINSTORM,
        level=level,
        areas=areas,
        headline=headline,
        expires=expires,
        raw=f"<raw {alert_id}>",
    )


def update(alert_id: str, minute: int, level: Level, *refs: str) -> Alert:
    return msg(alert_id, minute, Kind.UPDATE, refs or ("A",), level)


def cancel(alert_id: str, minute: int, *refs: str) -> Alert:
    return msg(alert_id, minute, Kind.CANCEL, refs or ("A",))


def levels(ledger: AlertLedger) -> list[Level]:
    return [w.level for w in ledger.active()]


def feed(ledger: AlertLedger, *alerts: Alert, now: datetime = NOW) -> list[Outcome]:
    return [ledger.accept(a, now) for a in alerts]


# --- applying -------------------------------------------------------------------------------


def test_new_alert_applies_and_is_in_force() -> None:
    ledger = AlertLedger()
    outcome = ledger.accept(msg("A"), NOW)
    assert outcome.decision is Decision.APPLY
    assert str(outcome) == "apply"
    assert outcome.changed
    assert ledger.active() == (ActiveWarning(Hazard.RAINSTORM, Level.BLUE, ("pudong",)),)
    assert [a.id for a in ledger.active_alerts()] == ["A"]


def test_update_replaces_and_cancel_removes() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), update("B", 10, Level.YELLOW))
    assert levels(ledger) == [Level.YELLOW]
    assert feed(ledger, cancel("C", 20, "A", "B"))[0].decision is Decision.APPLY
    assert ledger.active() == ()


def test_ledger_keeps_no_raw_payloads() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"))
    assert ledger.active_alerts()[0].raw == ""


def test_update_naming_two_warnings_merges_them() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), msg("X", 1, areas=("minhang",)))
    outcome = ledger.accept(update("B", 10, Level.ORANGE, "A", "X"), NOW)
    assert outcome.decision is Decision.APPLY
    assert levels(ledger) == [Level.ORANGE]
    # Either old id now reaches the merged warning.
    assert ledger.accept(cancel("C", 20, "X"), NOW).decision is Decision.APPLY
    assert ledger.active() == ()


def test_unknown_extra_references_are_ignored_when_one_is_known() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"))
    assert (
        ledger.accept(update("B", 5, Level.RED, "NEVER-SEEN", "A"), NOW).decision is Decision.APPLY
    )
    assert levels(ledger) == [Level.RED]


def test_test_status_is_rejected_and_changes_nothing() -> None:
    ledger = AlertLedger()
    outcome = ledger.accept(msg("T", status=Status.TEST), NOW)
    assert outcome.decision is Decision.REJECTED
    assert not outcome.changed
    assert ledger.active() == ()


def test_exercise_cannot_change_an_actual_warning() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"))
    drill = msg("D", 5, Kind.CANCEL, ("A",), status=Status.EXERCISE)
    outcome = ledger.accept(drill, NOW)
    assert outcome.decision is Decision.REJECTED
    assert "exercise" in outcome.reason
    assert levels(ledger) == [Level.BLUE]


# --- duplicates -----------------------------------------------------------------------------


def test_same_id_again_is_a_duplicate() -> None:
    ledger = AlertLedger()
    first, again = feed(ledger, msg("A"), msg("A"))
    assert first.decision is Decision.APPLY
    assert again.decision is Decision.DUPLICATE
    assert not again.changed
    assert len(ledger.active()) == 1


def test_same_id_with_different_content_keeps_the_first_and_says_so() -> None:
    ledger = AlertLedger()
    outcome = feed(ledger, msg("A"), msg("A", level=Level.RED))[1]
    assert outcome.decision is Decision.DUPLICATE
    assert "different content" in outcome.reason
    assert levels(ledger) == [Level.BLUE]


def test_same_content_under_a_new_id_is_a_duplicate_and_an_alias() -> None:
    ledger = AlertLedger()
    outcome = feed(ledger, msg("A"), msg("A-RESENT", 3))[1]
    assert outcome.decision is Decision.DUPLICATE
    assert "same content as message A" in outcome.reason
    assert len(ledger.active()) == 1
    # The relay's id is now an alias: an update referencing it reaches the same warning.
    assert ledger.accept(update("B", 10, Level.YELLOW, "A-RESENT"), NOW).decision is Decision.APPLY
    assert levels(ledger) == [Level.YELLOW]


def test_resent_original_after_an_update_does_not_resurrect_the_old_level() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), update("B", 10, Level.YELLOW))
    assert ledger.accept(msg("A-RELAYED", 0), NOW).decision is Decision.DUPLICATE
    assert levels(ledger) == [Level.YELLOW]


def test_identical_warning_after_a_cancellation_is_a_new_warning() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), cancel("C", 10))
    assert ledger.accept(msg("A2", 30), NOW).decision is Decision.APPLY
    assert len(ledger.active()) == 1


def test_duplicate_update_and_cancel_take_effect_once() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), update("B", 10, Level.YELLOW))
    assert ledger.accept(update("B2", 10, Level.YELLOW), NOW).decision is Decision.DUPLICATE
    feed(ledger, cancel("C", 20))
    assert ledger.accept(cancel("C", 20), NOW).decision is Decision.DUPLICATE
    assert ledger.accept(cancel("C2", 25), NOW).decision is Decision.DUPLICATE


# --- ordering -------------------------------------------------------------------------------


def test_older_update_after_a_newer_one_is_stale() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), update("C", 20, Level.ORANGE))
    outcome = ledger.accept(update("B", 10, Level.YELLOW), NOW)
    assert outcome.decision is Decision.STALE
    assert "older than 2024-09-20T05:50:00+00:00, when C of warning A was sent" in outcome.reason
    assert "an update or cancel that references C applies whatever the clocks say" in (
        outcome.reason
    )
    assert levels(ledger) == [Level.ORANGE]
    # Recorded: a re-send is a duplicate, and a cancel naming only B still finds the warning.
    assert ledger.accept(update("B", 10, Level.YELLOW), NOW).decision is Decision.DUPLICATE
    assert ledger.accept(cancel("D", 30, "B"), NOW).decision is Decision.APPLY


def test_older_cancel_after_a_newer_update_is_stale() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), update("C", 20, Level.ORANGE))
    assert ledger.accept(cancel("X", 15), NOW).decision is Decision.STALE
    assert levels(ledger) == [Level.ORANGE]


def test_update_naming_the_message_in_force_applies_whatever_the_clocks_say() -> None:
    """It was written after the message it names: an earlier ``sent`` is the clocks' fault."""
    ledger = AlertLedger()
    feed(ledger, msg("A", 10))
    outcome = ledger.accept(update("B", 5, Level.RED), NOW)
    assert outcome.decision is Decision.APPLY
    assert "it references A and so follows it, although its sent" in outcome.reason
    assert levels(ledger) == [Level.RED]
    # The same holds through an alias of the message in force, and for a cancel.
    feed(ledger, update("B-RELAYED", 6, Level.RED))
    cancelled = ledger.accept(cancel("C", 1, "B-RELAYED"), NOW)
    assert cancelled.decision is Decision.APPLY
    assert ledger.active() == ()


def test_a_far_future_sent_in_force_does_not_block_later_changes() -> None:
    """A ``sent`` intake would refuse today (say a state from before it did) orders nothing."""
    ledger = AlertLedger()
    mistyped = datetime(2199, 1, 1, tzinfo=UTC)
    future = dataclasses.replace(update("U", 10, Level.ORANGE), sent=mistyped)
    feed(ledger, msg("A"), future)
    assert levels(ledger) == [Level.ORANGE]
    # An upgrade and a cancel sent now, naming only A (not U, which is in force), both apply.
    upgrade = ledger.accept(update("R", 40, Level.RED), NOW)
    assert upgrade.decision is Decision.APPLY
    assert "U was sent 2199-01-01T00:00:00+00:00, in the future, so the order of arrival" in (
        upgrade.reason
    )
    assert levels(ledger) == [Level.RED]
    assert ledger.accept(cancel("C", 45), NOW).decision is Decision.APPLY
    assert ledger.active() == ()


def test_a_sent_ahead_by_no_more_than_clock_skew_still_orders() -> None:
    ledger = AlertLedger()
    ahead = dataclasses.replace(update("U", 10, Level.ORANGE), sent=NOW + MAX_CLOCK_SKEW)
    feed(ledger, msg("A"), ahead)
    outcome = ledger.accept(update("B", 40, Level.YELLOW), NOW)
    assert outcome.decision is Decision.STALE
    assert "references U applies" in outcome.reason


def test_a_workflow_replaying_an_older_history_keeps_the_clock_decision() -> None:
    """``patched`` is asked only where the reference rule changes a decision, per message."""
    asked: list[str] = []

    def old_history(patch_id: str) -> bool:
        asked.append(patch_id)
        return False

    ledger = AlertLedger()
    for alert in (msg("A", 10), update("C", 20, Level.ORANGE), update("B", 15, Level.RED)):
        ledger.accept(alert, NOW, patched=old_history)
    assert asked == []  # nothing the rule changes: C names A and is later; B is simply stale
    outcome = ledger.accept(update("D", 12, Level.YELLOW, "C"), NOW, patched=old_history)
    assert asked == [f"{ORDER_BY_REFERENCE}/D"]
    assert outcome.decision is Decision.STALE
    assert levels(ledger) == [Level.ORANGE]
    # A message arriving now (patched says yes) is decided by the new rule.
    assert ledger.accept(update("E", 11, Level.RED, "C"), NOW).decision is Decision.APPLY
    assert levels(ledger) == [Level.RED]


def test_equal_sent_is_not_stale() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), update("B", 10, Level.YELLOW))
    assert ledger.accept(update("C", 10, Level.ORANGE), NOW).decision is Decision.APPLY
    assert levels(ledger) == [Level.ORANGE]


def test_update_cannot_revive_a_cancelled_warning() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), cancel("C", 10))
    outcome = ledger.accept(update("B", 20, Level.RED), NOW)
    assert outcome.decision is Decision.STALE
    assert "cancelled" in outcome.reason
    assert ledger.active() == ()


def test_alert_that_expired_before_arriving_is_stale() -> None:
    ledger = AlertLedger()
    outcome = ledger.accept(msg("A", expires=T0 + timedelta(seconds=30)), NOW)
    assert outcome.decision is Decision.STALE
    assert ledger.active() == ()


def test_alert_older_than_the_ledger_memory_is_stale() -> None:
    ledger = AlertLedger(retain_seconds=3600)
    outcome = ledger.accept(msg("A"), T0 + timedelta(hours=2))
    assert outcome.decision is Decision.STALE
    assert "remembers" in outcome.reason


# --- held -----------------------------------------------------------------------------------


def test_update_before_its_alert_is_held_then_applied_when_the_alert_arrives() -> None:
    ledger = AlertLedger()
    held = ledger.accept(update("B", 10, Level.YELLOW), NOW)
    assert held.decision is Decision.HELD
    assert "waiting for A" in held.reason
    assert ledger.active() == ()
    assert [a.id for a in ledger.held_alerts()] == ["B"]

    arrived = ledger.accept(msg("A"), NOW)
    assert arrived.decision is Decision.APPLY
    assert [(o.alert_id, o.decision) for o in arrived.released] == [("B", Decision.APPLY)]
    # Released messages come with the message itself, so the workflow can record them.
    released = arrived.released[0].alert
    assert released is not None
    assert (released.id, released.level, released.raw) == ("B", Level.YELLOW, "")
    assert levels(ledger) == [Level.YELLOW]
    assert ledger.held_alerts() == ()


def test_cancel_before_its_alert_ends_the_warning_on_arrival() -> None:
    ledger = AlertLedger()
    feed(ledger, cancel("C", 30))
    arrived = ledger.accept(msg("A"), NOW)
    assert arrived.changed
    assert [o.decision for o in arrived.released] == [Decision.APPLY]
    assert ledger.active() == ()


def test_held_messages_are_released_in_sent_order_and_through_each_other() -> None:
    ledger = AlertLedger()
    # Arrival order: the later update, a cancel that only names B, then the earlier update.
    feed(ledger, update("C", 20, Level.ORANGE), cancel("D", 30, "B"), update("B", 10, Level.YELLOW))
    assert len(ledger.held_alerts()) == 3
    arrived = ledger.accept(msg("A"), NOW)
    decided = [(o.alert_id, o.decision) for o in arrived.released]
    assert decided == [("B", Decision.APPLY), ("C", Decision.APPLY), ("D", Decision.APPLY)]
    assert ledger.active() == ()


def test_held_update_older_than_the_alert_it_names_applies_on_release() -> None:
    ledger = AlertLedger()
    feed(ledger, update("B", 5, Level.RED))
    arrived = ledger.accept(msg("A", 10), NOW)
    assert [o.decision for o in arrived.released] == [Decision.APPLY]
    assert levels(ledger) == [Level.RED]


def test_held_update_released_behind_a_newer_one_is_stale() -> None:
    ledger = AlertLedger()
    feed(ledger, update("B", 5, Level.RED, "X"))
    feed(ledger, msg("A"), update("C", 20, Level.ORANGE))
    arrived = ledger.accept(msg("X", 1, Kind.UPDATE, ("A",), Level.YELLOW), NOW)
    # X names C's predecessor A: stale behind C; B follows X and so is released, stale too.
    assert arrived.decision is Decision.STALE
    assert [o.decision for o in arrived.released] == [Decision.STALE]
    assert levels(ledger) == [Level.ORANGE]


def test_duplicates_of_held_messages_are_not_held_twice() -> None:
    ledger = AlertLedger()
    feed(ledger, update("B", 10, Level.YELLOW))
    assert ledger.accept(update("B", 10, Level.YELLOW), NOW).decision is Decision.DUPLICATE
    assert ledger.accept(update("B2", 10, Level.YELLOW), NOW).decision is Decision.DUPLICATE
    assert len(ledger.held_alerts()) == 1


def test_held_messages_are_orphaned_after_the_hold_time() -> None:
    ledger = AlertLedger()
    feed(ledger, update("B", 10, Level.YELLOW))
    assert ledger.next_expiry() == NOW + timedelta(hours=6)
    assert ledger.expire_held(NOW + timedelta(hours=5, minutes=59)) == ()
    (orphan,) = ledger.expire_held(NOW + timedelta(hours=6))
    assert orphan.alert_id == "B"
    assert orphan.alert is not None and orphan.alert.kind is Kind.UPDATE
    assert orphan.decision is Decision.ORPHANED
    assert "none of A arrived within 6 h" in orphan.reason
    assert ledger.held_alerts() == ()
    assert ledger.next_expiry() is None


def test_hold_time_is_configurable() -> None:
    ledger = AlertLedger(hold_seconds=600)
    feed(ledger, cancel("C", 10))
    assert [o.decision for o in ledger.expire_held(NOW + timedelta(minutes=10))] == [
        Decision.ORPHANED
    ]


# --- expiry ---------------------------------------------------------------------------------


def test_expired_warnings_drop_out_and_an_update_may_revive_them() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A", expires=T0 + timedelta(hours=2)))
    assert ledger.next_expiry() == T0 + timedelta(hours=2)
    assert ledger.expire(T0 + timedelta(hours=1)) == ()
    assert ledger.expire(T0 + timedelta(hours=2)) == ("A",)
    assert ledger.active() == ()
    later = T0 + timedelta(hours=3)
    revive = msg("B", 170, Kind.UPDATE, ("A",), Level.YELLOW, expires=T0 + timedelta(hours=6))
    assert ledger.accept(revive, later).decision is Decision.APPLY
    assert levels(ledger) == [Level.YELLOW]


def test_cancel_of_an_expired_warning_has_nothing_to_end() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A", expires=T0 + timedelta(hours=2)))
    ledger.expire(T0 + timedelta(hours=2))
    outcome = ledger.accept(cancel("C", 130), T0 + timedelta(hours=3))
    assert outcome.decision is Decision.DUPLICATE
    assert "expired" in outcome.reason


def test_ended_warnings_are_forgotten_after_the_retention_time() -> None:
    ledger = AlertLedger(retain_seconds=3600)
    feed(ledger, msg("A"), cancel("C", 10))
    ledger.expire(NOW + timedelta(minutes=59))
    assert "A" in ledger.index
    ledger.expire(NOW + timedelta(hours=1))
    assert ledger.chains == {}
    assert ledger.index == {}


# --- state ----------------------------------------------------------------------------------


async def test_ledger_round_trips_through_the_temporal_converter_and_carries_on() -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A"), update("B", 10, Level.YELLOW), update("Z", 40, Level.RED, "Q"))
    ledger.expire(NOW)
    converter = DataConverter.default
    (copy,) = await converter.decode(await converter.encode([ledger]), [AlertLedger])
    assert copy == ledger
    other = msg("Q", 30, areas=("minhang",))
    assert copy.accept(other, NOW) == ledger.accept(other, NOW)
    assert copy == ledger
    assert levels(copy) == [Level.YELLOW, Level.RED]


# --- properties: arrival order and re-delivery do not change the result ----------------------

CHAIN = [
    msg("A", 0),
    update("U1", 10, Level.YELLOW),
    update("U2", 20, Level.ORANGE, "A", "U1"),
    update("U3", 30, Level.RED, "U2"),
]


@settings(max_examples=150, deadline=None)
@given(
    order=st.permutations(range(5)),
    with_cancel=st.booleans(),
    resends=st.lists(st.integers(0, 4), max_size=4),
)
def test_any_arrival_order_with_redelivery_ends_in_the_same_state(
    order: list[int], with_cancel: bool, resends: list[int]
) -> None:
    messages = [*CHAIN, cancel("C", 40, "U3", "A")]
    if not with_cancel:
        messages[4] = update("U3", 30, Level.RED, "U2")  # a re-delivery instead of the cancel
    arrivals = [messages[i] for i in order] + [messages[i] for i in resends]
    ledger = AlertLedger()
    outcomes = feed(ledger, *arrivals)

    decided: list[Outcome] = []
    for outcome in outcomes:
        decided += [outcome, *outcome.released]
    assert ledger.held_alerts() == ()
    # Every message is decided; each distinct message takes effect at most once.
    assert {o.alert_id for o in decided} == {m.id for m in arrivals}
    applied = [o.alert_id for o in decided if o.decision is Decision.APPLY]
    assert len(applied) == len(set(applied))
    assert "A" in applied
    assert levels(ledger) == ([] if with_cancel else [Level.RED])


@pytest.mark.parametrize("hours", [1, 6])
def test_next_expiry_is_the_earliest_deadline(hours: int) -> None:
    ledger = AlertLedger()
    feed(ledger, msg("A", expires=NOW + timedelta(hours=hours)), update("B", 1, Level.RED, "Q"))
    assert ledger.next_expiry() == NOW + timedelta(hours=min(hours, 6))
