"""How responses of earlier releases dispatched, kept so that their histories replay.

Before ``TRACKING_BY_ACTIVITY`` (``workflows.response``) a response started each task's workflow
as an abandoned child, once per plan task: a task stood down could never be dispatched again.
Responses started since take the new path; a response still running from before keeps this one
until it ends (``workflow.patched`` answers the same for its whole run).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

from workflows.calls import call

with workflow.unsafe.imports_passed_through():
    from activities.messaging import MessagingActivities, PublishTasksInput
    from activities.records import RecordActivities, RecordTasksInput
    from plans.lifecycle import TaskState, task_key, task_workflow_id
    from plans.model import Task
    from workflows.task import TaskWorkflow
    from workflows.types import ResponseInput, ResponseState, TaskInput, TaskView


async def dispatch_as_children(
    s: ResponseState, inp: ResponseInput, tasks: tuple[Task, ...]
) -> None:
    """Record, publish, then start each new task's workflow as a child."""
    fresh = tuple(t for t in tasks if t.id not in s.tasks)
    if not fresh:
        return
    now = workflow.now()
    await call(
        RecordActivities.record_tasks,
        RecordTasksInput(s.response_id, inp.drill, inp.plan.version, fresh, now),
    )
    await call(
        MessagingActivities.publish_tasks,
        PublishTasksInput(s.response_id, inp.drill, inp.plan.content_hash, fresh, now),
    )
    # Started together: one workflow task issues every start command instead of one each.
    await asyncio.gather(*(_start_child(s, inp, task, now) for task in fresh))


async def _start_child(
    s: ResponseState, inp: ResponseInput, task: Task, issued_at: datetime
) -> None:
    key = task_key(s.response_id, task.id)
    s.tasks[task.id] = TaskView(
        key, task.agency, task.action_id, task.area, task.asset, TaskState.DISPATCHED
    )
    await workflow.start_child_workflow(
        TaskWorkflow.run,
        TaskInput(
            key,
            s.response_id,
            workflow.info().workflow_id,
            task,
            inp.plan.content_hash,
            inp.drill,
            issued_at,
            inp.time_scale,
        ),
        id=task_workflow_id(key),
        parent_close_policy=ParentClosePolicy.ABANDON,
    )
