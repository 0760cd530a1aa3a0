"""The response engine: warnings in, the response and what changed out.

One engine for every place that must know what tidegate does with a stream of warnings: the
response workflow, which records each step as it goes, and the drills, which replay a storm to
know what the response must show after each warning (progress, the after-action report, the
plan comparison). Both go through the same steps in the same order, so a drill's expectation
can never skip what the workflow does (warnings expiring, held messages released or orphaned).

The steps advance an :class:`~plans.ledger.AlertLedger` in place and are otherwise pure: the
caller passes the time (``workflow.now()`` in a workflow).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from plans.hq import HqDecision, HqLedger, HqResult, apply_declarations
from plans.ledger import AlertLedger, Outcome
from plans.model import Diff, Plan, Response
from plans.rules import assess, diff, respond, response_of
from plans.warning import Alert


def _always(patch_id: str) -> bool:
    return True


@dataclass(frozen=True)
class Decided:
    """One decision of the ledger, and whether it was taken as the message arrived."""

    outcome: Outcome
    on_arrival: bool
    """False for a held message released by a later one (its decision is taken late)."""


def expire(ledger: AlertLedger, now: datetime) -> tuple[str, ...]:
    """Step 1: end the warnings whose ``expires`` has passed; their ids."""
    return ledger.expire(now)


def receive(
    ledger: AlertLedger,
    alert: Alert,
    now: datetime,
    *,
    patched: Callable[[str], bool] = _always,
) -> tuple[Decided, ...]:
    """Step 2, per message: decide it, then any held messages it released, in that order."""
    outcome = ledger.accept(alert, now, patched=patched)
    return (Decided(outcome, True), *(Decided(r, False) for r in outcome.released))


def orphan_held(ledger: AlertLedger, now: datetime) -> tuple[Outcome, ...]:
    """Step 3: refuse held messages whose reference never came."""
    return ledger.expire_held(now)


def decide(
    ledger: AlertLedger, plan: Plan, before: Response | None, hq: HqLedger | None = None
) -> tuple[Response, Diff]:
    """Step 4: the response for the warnings (and HQ declarations) in force, and the change.

    With HQ declarations in force (``plans.hq``), the response's levels are the effective ones
    and ``automatic`` keeps what the signals alone give.
    """
    after = respond(ledger.active(), plan)
    declarations = hq.active() if hq is not None else ()
    if declarations:
        automatic = assess(ledger.active(), plan)
        districts = tuple(d.id for d in plan.districts)
        effective = response_of(apply_declarations(automatic, declarations, districts), plan)
        after = dataclasses.replace(effective, automatic=after.levels)
    return after, diff(before or respond((), plan), after)


def receive_hq(hq: HqLedger, decision: HqDecision) -> HqResult:
    """Step 2, per HQ decision (after the warnings that arrived with it): its outcome."""
    return hq.accept(decision)


def replay(
    ledger: AlertLedger,
    plan: Plan,
    message: Alert | HqDecision,
    now: datetime,
    hq: HqLedger | None = None,
) -> Response:
    """All four steps for one message arriving at ``now``: what a response then shows.

    The message is a warning, or (with the response's ``hq`` ledger) an HQ decision, taken
    after the held messages are settled, as the workflow takes its HQ inbox.
    """
    expire(ledger, now)
    if isinstance(message, HqDecision):
        if hq is None:
            raise ValueError("an HQ decision is replayed with the response's HQ ledger")
        orphan_held(ledger, now)
        receive_hq(hq, message)
    else:
        receive(ledger, message, now)
        orphan_held(ledger, now)
    response, _ = decide(ledger, plan, None, hq)
    return response
