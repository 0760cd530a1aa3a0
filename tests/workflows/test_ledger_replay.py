"""The ledger's newer ordering rule is versioned per message, so running responses replay.

``tests/histories/response-future-sent-stale.json`` was recorded before "clocks give way to
references" (``plans.ledger``, rule 5): a warning sent in 2199, then an upgrade and a cancel
naming it, both decided ``stale``. ``test_replay.py`` replays it with today's code; this test
shows why that needs ``workflow.patched``: decided by the new rule on replay, the upgrade would
dispatch new tasks the history never saw.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from plans.ledger import AlertLedger, Outcome
from plans.warning import Alert
from workflows.response import ResponseWorkflow
from workflows.task import TaskWorkflow

HISTORY = Path(__file__).resolve().parents[1] / "histories" / "response-future-sent-stale.json"


def _history() -> WorkflowHistory:
    document = json.loads(HISTORY.read_text())
    return WorkflowHistory.from_json(document["workflow_id"], document["history"])


async def test_the_stuck_response_replays_with_its_stale_decisions() -> None:
    result = await Replayer(workflows=[ResponseWorkflow, TaskWorkflow]).replay_workflow(
        _history(), raise_on_replay_failure=False
    )
    assert result.replay_failure is None


async def test_without_the_patch_the_new_rule_would_break_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accept = AlertLedger.accept

    def unversioned(self: AlertLedger, alert: Alert, now: datetime, **_: Any) -> Outcome:
        return accept(self, alert, now)  # the new rule, whatever the history recorded

    monkeypatch.setattr(AlertLedger, "accept", unversioned)
    result = await Replayer(workflows=[ResponseWorkflow, TaskWorkflow]).replay_workflow(
        _history(), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, NondeterminismError)
