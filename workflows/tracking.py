"""Starting and answering task workflows from outside a workflow.

A task's tracking workflow can be started from two sides: by the response (the
``start_tracking`` activity, while the task's message goes out) and by the agency's answer, when
an agency system acknowledges the moment the message arrives, before the response got round to
it. Both start it from the :class:`~workflows.types.Tracking` kept in the task's row, so both
start the same workflow with the same input: whichever comes first starts it, the other finds
it running (the answer is a signal-with-start, so it is never lost), and a task whose workflow
has finished is never started again (``REJECT_DUPLICATE``).

Not workflow code: these run in activities, the agency intake, the CLI and drills.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from plans.lifecycle import task_workflow_id
from store import queries
from workflows.types import AgencyEvent, Tracking

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

TASK_WORKFLOW = "TaskWorkflow"
"""By name: importing the workflow class here would tie activities to workflow modules."""


class TaskClosed(Exception):
    """The task's workflow has finished: the task can take no more answers."""


class Unanswerable(Exception):
    """An answer that can never reach a task; ``reason`` says why, for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


@dataclass(frozen=True)
class AnswerRoute:
    """Where answers go: the services, and which tasks this way in may answer."""

    client: Client
    sessions: async_sessionmaker[AsyncSession]
    task_queue: str
    """The task queue whose task workflows this way in reaches (the worker's, or a drill's)."""
    drill: bool
    """Drill answers reach drill tasks only, live answers live tasks only."""
    agency: str | None = None
    """The agency whose answers come this way (its own Kafka events topic): it may answer its
    own tasks only. ``None``: a way in that checks who answers by other means."""


async def answer_task(route: AnswerRoute, task_id: str, event: AgencyEvent) -> None:
    """Hand an agency's answer to its task's workflow.

    The task's row decides: an answer for a recorded task is never refused because its
    tracking has not started yet (it starts it, :func:`answer`).

    Raises:
        Unanswerable: no such task, a task of another agency than the route's, a task of the
            other kind (drill/live) or of another task queue, or a closed task.
    """
    async with route.sessions() as session:
        row = await queries.task(session, task_id)
    if row is None:
        raise Unanswerable(f"task_id: no task {task_id!r}")
    if route.agency is not None and row.agency != route.agency:
        raise Unanswerable(
            f"task_id: {task_id!r} is a task of agency {row.agency!r}; {route.agency!r} may "
            "answer its own tasks only"
        )
    if row.drill != route.drill:
        raise Unanswerable(
            f"task_id: {task_id!r} is a {'drill' if row.drill else 'live'} task; "
            f"{'drill' if route.drill else 'live'} answers reach "
            f"{'drill' if route.drill else 'live'} tasks only"
        )
    if row.tracking is None:  # recorded by an earlier release, which started tracking first
        await _signal(route.client, task_id, event)
        return
    tracked = Tracking.decode(row.tracking)
    if tracked.task_queue != route.task_queue:
        raise Unanswerable(
            f"task_id: {task_id!r} is tracked on task queue {tracked.task_queue!r}, "
            f"not on {route.task_queue!r}"
        )
    try:
        await answer(route.client, tracked, event)
    except TaskClosed:
        raise Unanswerable(f"task_id: task {task_id!r} is closed ({row.state})") from None


async def _signal(client: Client, task_id: str, event: AgencyEvent) -> None:
    handle = client.get_workflow_handle(task_workflow_id(task_id))
    try:
        await handle.signal("agency_event", event)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise Unanswerable(f"task_id: no open task {task_id!r}") from None
        raise
