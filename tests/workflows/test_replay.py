"""Replay committed histories of real runs against today's workflow code.

Each ``tests/histories/*.json`` was recorded from the production worker on a real dev server
(``tests/histories/record.py``). A workflow change that would make a running response or task
take a different path on replay (a new activity, timer or child before an old one, a reordered
step) fails here, before it can strand workflows in production: put it behind
``workflow.patched`` instead. No server is needed; replay runs in this process.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workflows.response import ResponseWorkflow
from workflows.task import TaskWorkflow
from workflows.types import TaskInput, TaskResult

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """A recorded history, with the workflow id it ran under (ids derive from it)."""
    document = json.loads(path.read_text())
    return WorkflowHistory.from_json(document["workflow_id"], document["history"])


def test_the_histories_cover_what_matters() -> None:
    names = {path.stem for path in FILES}
    assert any(n.startswith("response-") and "upgrade" in n and "cancel" in n for n in names)
    assert any(n.startswith("task-") and "escalated" in n for n in names)
    kinds = {
        load(path).events[0].workflow_execution_started_event_attributes.workflow_type.name
        for path in FILES
    }
    assert kinds == {"ResponseWorkflow", "TaskWorkflow"}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_recorded_history_replays(path: Path) -> None:
    await Replayer(workflows=[ResponseWorkflow, TaskWorkflow]).replay_workflow(load(path))


# Unsandboxed only because the sandbox would re-import this test module, which reads files.
@workflow.defn(name="TaskWorkflow", sandboxed=False)
class TaskWorkflowWithAnExtraStep(TaskWorkflow):
    """A careless change: record something before anything else."""

    @workflow.run
    async def run(self, inp: TaskInput) -> TaskResult:
        await workflow.execute_activity(
            "record_task_transition", inp, start_to_close_timeout=timedelta(seconds=10)
        )
        return await super().run(inp)


async def test_a_nondeterministic_change_fails_replay() -> None:
    """The check above has teeth: an extra activity in front is caught.

    (An extra *timer* in front would not be: the task's first command is a timer too, and
    replay matches commands by kind and sequence, not by duration.)
    """
    escalated = next(p for p in FILES if p.stem.startswith("task-escalated"))
    result = await Replayer(workflows=[TaskWorkflowWithAnExtraStep]).replay_workflow(
        load(escalated), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, NondeterminismError)
