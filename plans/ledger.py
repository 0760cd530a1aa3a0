"""Duplicates, ordering and held messages: the stateful intake rules, as pure data and logic.

:class:`AlertLedger` is kept in a response workflow's state. It uses no clock (``now`` is always
passed in, from ``workflow.now()``), iterates only dicts and lists (insertion-ordered), and is
built from dataclasses, str enums, dicts, lists and datetimes, so Temporal's default converter
carries it through continue-as-new unchanged.

Terms: a *message* is one :class:`~plans.warning.Alert` (new warning, update or cancel). A *warning*
(a :class:`Chain`) is a new alert together with every update and cancel that refers to it; it is
identified by the id of its first message.

Rules (also in ``docs/alerts.md``); every message gets exactly one :class:`Decision`:

1. **Test** status messages are ``REJECTED``: they never change warnings.
2. **Same id again** → ``DUPLICATE``. The first version stands even if the content differs
   (the reason says so). Ids of held messages count too.
3. **Same content again** (equal :attr:`~plans.warning.Alert.fingerprint`) as any message of a
   warning still in force → ``DUPLICATE``; its id becomes an alias of that warning, so later
   updates may reference either id. Content is not compared against warnings that have ended:
   an identical warning issued after a cancellation is a new warning.
4. **Update or cancel whose references are all unknown** → ``HELD``. When a message that one of
   its references names is accepted, held messages are released in ``sent`` order and decided
   by these same rules (reported in :attr:`Outcome.released`). Held messages still waiting
   ``hold_seconds`` (default 6 h) after they arrived are rejected as ``ORPHANED`` by
   :meth:`AlertLedger.expire_held`. A known reference is enough: unknown extra ids are ignored.
5. **Older than what was applied** → ``STALE``: an update or cancel whose ``sent`` is earlier
   than the latest ``sent`` already applied to the warning it references is rejected, so a
   late-arriving old update can never overwrite a newer one. Equal ``sent`` is not stale
   (arrival order decides). Clocks give way to references: a message that references the
   message in force was written after it, and a ``sent`` still more than
   :data:`~plans.warning.MAX_CLOCK_SKEW` ahead of ``now`` proves nothing, so in both cases the
   message applies whatever the clocks say (the reason says so). Also ``STALE``: an update of
   a cancelled warning, a message that already expired when it arrived, and a new alert sent
   longer ago than ``retain_seconds`` (the ledger may have forgotten its cancellation).
6. An **exercise** message may not change an **actual** warning or vice versa (``REJECTED``).
7. Otherwise ``APPLY``: a new alert starts a warning; an update replaces the warning(s) it
   references (several referenced warnings merge into the first); a cancel ends them (a cancel
   of a warning that already expired is a ``DUPLICATE``: nothing is left to end).
8. :meth:`AlertLedger.expire` ends warnings whose ``expires`` has passed. An update may revive
   an expired (not a cancelled) warning. Ended warnings are forgotten ``retain_seconds``
   (default 7 days) after they ended.

The ledger stores messages without ``raw`` to keep workflow history small; intake archives the
raw payload.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from plans.model import ActiveWarning
from plans.warning import MAX_CLOCK_SKEW, Alert, Kind, Status

DEFAULT_HOLD_SECONDS = 6 * 3600
"""How long an update or cancel waits for the message it references before it is orphaned."""
DEFAULT_RETAIN_SECONDS = 7 * 24 * 3600
"""How long an ended warning is remembered for duplicate and ordering checks."""
ORDER_BY_REFERENCE = "ledger-order-by-reference"
"""Patch id prefix of rule 5's "clocks give way to references" (see :meth:`AlertLedger.accept`)."""

Patched = Callable[[str], bool]
"""``workflow.patched``, or a stand-in: asked before a decision a newer rule changed."""


def _always(patch_id: str) -> bool:
    return True


class Decision(StrEnum):
    """What the ledger did with one message."""

    APPLY = "apply"
    DUPLICATE = "duplicate"
    STALE = "stale"
    HELD = "held"
    REJECTED = "rejected"
    ORPHANED = "orphaned"


@dataclass(frozen=True)
class Outcome:
    """The decision on one message, why, and the held messages it released."""

    alert_id: str
    decision: Decision
    reason: str
    released: tuple[Outcome, ...] = ()
    """Outcomes of held messages this one unblocked, in the order they were decided."""
    alert: Alert | None = None
    """The message decided (without ``raw``), so released and orphaned ones can be recorded."""

    def __str__(self) -> str:
        return self.decision.value

    @property
    def changed(self) -> bool:
        """Whether the warnings in force may have changed (this or a released message applied)."""
        return self.decision is Decision.APPLY or any(o.changed for o in self.released)


class ChainState(StrEnum):
    """Whether a warning is in force."""

    OPEN = "open"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass
class Chain:
    """One warning: its current message and every message id recorded against it."""

    root: str
    """Id of the first message; the warning's identity."""
    current: Alert
    """The message now in force (or last in force, once the warning has ended)."""
    latest_sent: datetime
    """Latest ``sent`` applied; anything older is stale."""
    messages: dict[str, str]
    """Id → fingerprint of every message applied to, aliased to, or rejected as stale for it."""
    state: ChainState = ChainState.OPEN
    closed_at: datetime | None = None


@dataclass
class HeldAlert:
    """An update or cancel waiting for a message it references."""

    alert: Alert
    received_at: datetime


@dataclass
class AlertLedger:
    """Decides what each incoming message does to the warnings in force; see module docs."""

    hold_seconds: int = DEFAULT_HOLD_SECONDS
    retain_seconds: int = DEFAULT_RETAIN_SECONDS
    chains: dict[str, Chain] = field(default_factory=dict)
    """Warnings by root id, in the order they started."""
    index: dict[str, str] = field(default_factory=dict)
    """Every recorded message id → the root id of its warning."""
    held: list[HeldAlert] = field(default_factory=list)

    def accept(self, alert: Alert, now: datetime, *, patched: Patched = _always) -> Outcome:
        """Decide one message and apply it; then release any held messages it unblocks.

        Args:
            alert: A message that passed :func:`alerts.intake.parse_alert`.
            now: The current time (``workflow.now()`` in a workflow); timezone-aware.
            patched: A workflow passes ``workflow.patched``. Only where rule 5's "clocks give
                way to references" turns an earlier release's ``STALE`` into ``APPLY`` is it
                asked, with :data:`ORDER_BY_REFERENCE` and the message id: so a history
                recorded before that rule replays unchanged, while a message arriving now, even
                in a response stuck behind a far-future ``sent``, is decided by the new rule.

        Returns:
            The decision with its reason; ``str(outcome)`` is the decision's value.
        """
        outcome = self._consider(dataclasses.replace(alert, raw=""), now, patched)
        # Any decision that records an id (even STALE) may unblock held messages.
        return dataclasses.replace(outcome, released=self._release(now, patched))

    def expire(self, now: datetime) -> tuple[str, ...]:
        """End warnings whose ``expires`` has passed and forget long-ended ones.

        Returns:
            Ids of the messages that were in force and have now expired.
        """
        expired = []
        for chain in self.chains.values():
            expires = chain.current.expires
            if chain.state is ChainState.OPEN and expires is not None and expires <= now:
                chain.state, chain.closed_at = ChainState.EXPIRED, now
                expired.append(chain.current.id)
        self._forget(now)
        return tuple(expired)

    def expire_held(self, now: datetime) -> tuple[Outcome, ...]:
        """Reject held messages whose reference has not arrived within ``hold_seconds``.

        Returns:
            One ``ORPHANED`` outcome per rejected message, for the caller to record.
        """
        wait = timedelta(seconds=self.hold_seconds)
        orphans = [h for h in self.held if h.received_at + wait <= now]
        self.held = [h for h in self.held if h.received_at + wait > now]
        return tuple(
            _out(
                h.alert,
                Decision.ORPHANED,
                f"none of {', '.join(h.alert.references)} arrived within "
                f"{_hours(self.hold_seconds)} of {h.received_at.isoformat()}",
            )
            for h in orphans
        )

    def next_expiry(self) -> datetime | None:
        """When :meth:`expire` or :meth:`expire_held` next has something to do, if ever."""
        wait = timedelta(seconds=self.hold_seconds)
        times = [h.received_at + wait for h in self.held]
        times += [
            c.current.expires
            for c in self.chains.values()
            if c.state is ChainState.OPEN and c.current.expires is not None
        ]
        return min(times, default=None)

    def active_alerts(self) -> tuple[Alert, ...]:
        """The messages in force, one per warning, in the order the warnings started."""
        return tuple(c.current for c in self.chains.values() if c.state is ChainState.OPEN)

    def active(self) -> tuple[ActiveWarning, ...]:
        """The warnings in force, reduced to what the plan engine needs."""
        return tuple(alert.to_active() for alert in self.active_alerts())

    def held_alerts(self) -> tuple[Alert, ...]:
        """Messages waiting for a reference, oldest first."""
        return tuple(h.alert for h in self.held)

    # --- rules -----------------------------------------------------------------------------

    def _consider(self, alert: Alert, now: datetime, patched: Patched) -> Outcome:
        if alert.status is Status.TEST:
            return _out(alert, Decision.REJECTED, "status test is logged and ignored, not applied")
        duplicate = self._same_id(alert)
        if duplicate is not None:
            return duplicate
        if alert.kind is Kind.ALERT:
            return self._start(alert, now)
        return self._change(alert, now, patched)

    def _same_id(self, alert: Alert) -> Outcome | None:
        root = self.index.get(alert.id)
        if root is not None:
            seen = self.chains[root].messages[alert.id]
        else:
            held = [h.alert for h in self.held if h.alert.id == alert.id]
            if not held:
                return None
            seen = held[0].fingerprint
        if seen == alert.fingerprint:
            return _out(alert, Decision.DUPLICATE, f"message {alert.id} was already received")
        return _out(
            alert,
            Decision.DUPLICATE,
            f"message {alert.id} was already received with different content; the first stands",
        )

    def _start(self, alert: Alert, now: datetime) -> Outcome:
        open_chains = [c for c in self.chains.values() if c.state is ChainState.OPEN]
        same = self._same_content(alert, open_chains)
        if same is not None:
            return same
        if alert.sent < now - timedelta(seconds=self.retain_seconds):
            return _out(
                alert,
                Decision.STALE,
                f"sent {alert.sent.isoformat()}, longer ago than the ledger remembers "
                f"({_hours(self.retain_seconds)}); it may have been cancelled since",
            )
        if alert.expires is not None and alert.expires <= now:
            return _expired_on_arrival(alert)
        self.chains[alert.id] = Chain(
            root=alert.id,
            current=alert,
            latest_sent=alert.sent,
            messages={alert.id: alert.fingerprint},
        )
        self.index[alert.id] = alert.id
        return _out(alert, Decision.APPLY, "new warning")

    def _change(self, alert: Alert, now: datetime, patched: Patched) -> Outcome:
        roots = list(dict.fromkeys(self.index[r] for r in alert.references if r in self.index))
        if not roots:
            return self._hold(alert, now)
        chains = [self.chains[root] for root in roots]
        for chain in chains:
            if chain.current.status is not alert.status:
                return _out(
                    alert,
                    Decision.REJECTED,
                    f"a {alert.status} message cannot change {chain.current.status} "
                    f"warning {chain.root}",
                )
        same = self._same_content(alert, chains)
        if same is not None:
            return same
        live = [c for c in chains if c.state is not ChainState.CANCELLED]
        if not live:
            if alert.kind is Kind.CANCEL:
                return _out(alert, Decision.DUPLICATE, f"warning {roots[0]} is already cancelled")
            return self._stale(alert, chains[0], f"warning {roots[0]} was cancelled")
        later = [c for c in live if alert.sent < c.latest_sent]
        overruled = [c for c in later if _ordered_by_reference(alert, c, now)]
        blocking = [c for c in later if not _ordered_by_reference(alert, c, now)]
        if blocking or (overruled and not patched(f"{ORDER_BY_REFERENCE}/{alert.id}")):
            return self._stale(alert, max(blocking or later, key=lambda c: c.latest_sent))
        note = "".join(_overruled(alert, c, now) for c in overruled)
        if alert.kind is Kind.CANCEL:
            return self._cancel(alert, live, now, note)
        if alert.expires is not None and alert.expires <= now:
            return _expired_on_arrival(alert)
        return self._update(alert, live, note)

    def _hold(self, alert: Alert, now: datetime) -> Outcome:
        for held in self.held:
            if held.alert.fingerprint == alert.fingerprint:
                return _out(
                    alert, Decision.DUPLICATE, f"same content as held message {held.alert.id}"
                )
        self.held.append(HeldAlert(alert, now))
        return _out(
            alert,
            Decision.HELD,
            f"waiting for {', '.join(alert.references)}; orphaned if none arrives within "
            f"{_hours(self.hold_seconds)}",
        )

    def _same_content(self, alert: Alert, chains: list[Chain]) -> Outcome | None:
        for chain in chains:
            if chain.state is not ChainState.OPEN:
                continue
            for message_id, fingerprint in chain.messages.items():
                if fingerprint == alert.fingerprint:
                    self._record(chain, alert)
                    return _out(
                        alert,
                        Decision.DUPLICATE,
                        f"same content as message {message_id} of warning {chain.root}",
                    )
        return None

    def _stale(self, alert: Alert, chain: Chain, reason: str | None = None) -> Outcome:
        self._record(chain, alert)
        if reason is None:
            current = chain.current.id
            reason = (
                f"sent {alert.sent.isoformat()} is older than {chain.latest_sent.isoformat()}, "
                f"when {current} of warning {chain.root} was sent, and it does not reference "
                f"{current}, so it may be out of date; an update or cancel that references "
                f"{current} applies whatever the clocks say"
            )
        return _out(alert, Decision.STALE, reason)

    def _cancel(self, alert: Alert, live: list[Chain], now: datetime, note: str) -> Outcome:
        was_open = [c.root for c in live if c.state is ChainState.OPEN]
        for chain in live:
            chain.state, chain.closed_at, chain.latest_sent = ChainState.CANCELLED, now, alert.sent
        self._record(live[0], alert)
        if not was_open:
            return _out(alert, Decision.DUPLICATE, f"warning {live[0].root} had already expired")
        return _out(alert, Decision.APPLY, f"cancels warning {', '.join(was_open)}{note}")

    def _update(self, alert: Alert, live: list[Chain], note: str) -> Outcome:
        primary, *others = live
        for other in others:
            # An update naming several warnings merges them: one warning replaces them all.
            for message_id, fingerprint in other.messages.items():
                primary.messages[message_id] = fingerprint
                self.index[message_id] = primary.root
            del self.chains[other.root]
        replaced = primary.current.id
        primary.current, primary.latest_sent = alert, alert.sent
        primary.state, primary.closed_at = ChainState.OPEN, None
        self._record(primary, alert)
        return _out(alert, Decision.APPLY, f"replaces {replaced} in warning {primary.root}{note}")

    def _record(self, chain: Chain, alert: Alert) -> None:
        chain.messages[alert.id] = alert.fingerprint
        self.index[alert.id] = chain.root

    def _release(self, now: datetime, patched: Patched) -> tuple[Outcome, ...]:
        released: list[Outcome] = []
        while True:
            ready = [
                i
                for i, h in enumerate(self.held)
                if any(r in self.index for r in h.alert.references)
            ]
            if not ready:
                return tuple(released)
            first = min(ready, key=lambda i: (self.held[i].alert.sent, self.held[i].alert.id))
            held = self.held.pop(first)
            released.append(self._consider(held.alert, now, patched))

    def _forget(self, now: datetime) -> None:
        keep = timedelta(seconds=self.retain_seconds)
        for root in [
            r
            for r, c in self.chains.items()
            if c.closed_at is not None and c.closed_at + keep <= now
        ]:
            for message_id in self.chains.pop(root).messages:
                if self.index.get(message_id) == root:
                    del self.index[message_id]


def _ordered_by_reference(alert: Alert, chain: Chain, now: datetime) -> bool:
    """Whether ``alert`` follows ``chain``'s message in force whatever their ``sent`` says.

    It does when it references that message (or a copy of it): it was written after it. And
    when that message's ``sent`` is still further in the future than clock skew explains: it
    got in before intake refused such times, and comparing with it would block every change.
    """
    names_current = any(
        chain.messages.get(ref) == chain.current.fingerprint for ref in alert.references
    )
    return names_current or chain.latest_sent > now + MAX_CLOCK_SKEW


def _overruled(alert: Alert, chain: Chain, now: datetime) -> str:
    """The note an applied message's reason gets when its ``sent`` is before the one in force."""
    current, latest = chain.current.id, chain.latest_sent.isoformat()
    if chain.latest_sent > now + MAX_CLOCK_SKEW:
        return (
            f"; {current} was sent {latest}, in the future, so the order of arrival decides, "
            "not the clocks"
        )
    return (
        f"; it references {current} and so follows it, although its sent "
        f"{alert.sent.isoformat()} is before {latest}"
    )


def _out(alert: Alert, decision: Decision, reason: str) -> Outcome:
    return Outcome(alert.id, decision, reason, alert=alert)


def _expired_on_arrival(alert: Alert) -> Outcome:
    expires = alert.expires.isoformat() if alert.expires else "?"
    return _out(alert, Decision.STALE, f"expired at {expires}, before it arrived")


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g} h"
