"""Starting and answering task workflows from outside a workflow.

A task's tracking workflow can be started from two sides: by the response (the
``start_tracking`` activity, while the task's message goes out) and by the agency's answer, when
an agency system acknowledges the moment the message arrives, before the response got round to
it. Both start it from the :class:`~workflows.types.Tracking` kept in the task's row, so both
start the same workflow with the same input: whichever comes first starts it, the other finds
it running (the answer is a signal-with-start, so it is never lost), and a task whose workflow
has finished is never started again (``REJECT_DUPLICATE``).

Not workflow code: these run in activities, the agency intake and the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from plans.lifecycle import task_workflow_id

if TYPE_CHECKING:
    from temporalio.client import Client

    from workflows.types import AgencyEvent, Tracking

TASK_WORKFLOW = "TaskWorkflow"
"""By name: importing the workflow class here would tie activities to workflow modules."""


class TaskClosed(Exception):
    """The task's workflow has finished: the task can take no more answers."""


async def start(client: Client, tracking: Tracking) -> bool:
    """Start tracking a task unless someone already did; True if this call started it."""
    try:
        await client.start_workflow(
            TASK_WORKFLOW,
            tracking.input,
            id=task_workflow_id(tracking.input.task_id),
            task_queue=tracking.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False  # running (an early answer started it) or already over: nothing to do
    return True


async def answer(client: Client, tracking: Tracking, event: AgencyEvent) -> None:
    """Hand an agency's answer to the task's workflow, starting the workflow if need be.

    Raises:
        TaskClosed: the task's workflow has finished.
    """
    try:
        await client.start_workflow(
            TASK_WORKFLOW,
            tracking.input,
            id=task_workflow_id(tracking.input.task_id),
            task_queue=tracking.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal="agency_event",
            start_signal_args=[event],
        )
    except WorkflowAlreadyStartedError:
        raise TaskClosed(tracking.input.task_id) from None
