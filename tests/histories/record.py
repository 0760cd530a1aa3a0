"""Record the workflow histories that ``tests/workflows/test_replay.py`` replays.

Usage (from the repository root, after ``make setup``)::

    .venv/bin/python tests/histories/record.py

Each file is ``{"workflow_id": ..., "history": <WorkflowHistory.to_json_dict()>}``. It starts
a throw-away stack (Temporal dev server, Kafka, SQLite; :mod:`devstack.scratch`),
runs the production worker in-process and drives one district-level response through issue,
upgrade and cancel, with plan timers 600 times faster than real time so the escalation chain
fires within seconds. Then it writes, next to this file:

``response-issue-upgrade-cancel.json``
    the ResponseWorkflow from the first warning to its summary;
``task-escalated-acknowledged-completed.json``
    a TaskWorkflow that ran its whole escalation chain, then was acknowledged and completed;
``task-escalated-stood-down.json``
    a TaskWorkflow that escalated and was stood down by the cancellation.

Record again (and commit the files) only on purpose: a history that no longer replays means a
workflow change would break running workflows, which needs ``workflow.patched`` instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from temporalio.client import Client, WorkflowHandle

import worker
from devstack.scratch import scratch_stack
from plans.lifecycle import task_workflow_id
from plans.loader import load_plan
from plans.model import ActiveWarning, Hazard, Level, StandDown
from plans.rules import respond
from plans.warning import Alert, Kind, Status
from workflows.response import ResponseWorkflow
from workflows.starters import response_workflow_id, submit
from workflows.task import TaskWorkflow
from workflows.types import AgencyEvent, ResponseStatus

log = logging.getLogger("record")

HERE = Path(__file__).resolve().parent
TIME_SCALE = 600.0
"""A 15-minute acknowledgement timeout becomes 1.5 s; the whole chain (60 min) 6 s."""
REGION = "histories"

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T]], within: float = 60.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        await asyncio.sleep(0.2)


def alert(alert_id: str, sent: datetime, level: Level, kind: Kind, refs: tuple[str, ...]) -> Alert:
    return Alert(
        id=alert_id,
        sender="record.py",
        sent=sent,
        status=Status.ACTUAL,
        kind=kind,
        references=refs,
        hazard=Hazard.RAINSTORM,
        level=level,
        areas=("pudong",),
    )


async def drive(client: Client, task_queue: str) -> dict[str, WorkflowHandle[object, object]]:
    """Issue, escalate, acknowledge, upgrade, cancel, close; returns the handles to save."""
    plan = load_plan()
    handle = client.get_workflow_handle(response_workflow_id(REGION, False))
    sent = datetime.now(UTC)

    async def status() -> ResponseStatus:
        return await handle.query(ResponseWorkflow.status)

    async def send(message: Alert) -> None:
        await submit(client, task_queue, REGION, plan, message, time_scale=TIME_SCALE)

    await send(alert("h1", sent, Level.BLUE, Kind.ALERT, ()))
    blue = await until(lambda: _tasks_when(status, 13))
    chased = blue[0]
    chased_id = chased.split("/", 1)[1]
    chased_handle = client.get_workflow_handle(task_workflow_id(chased))
    # The whole chain (reminder, supervision, warning) runs out unanswered, then the agency
    # answers late and finishes.
    await until(lambda: _escalations(chased_handle, 3))
    await chased_handle.signal(TaskWorkflow.agency_event, AgencyEvent("acknowledge", by="crew-1"))
    await chased_handle.signal(TaskWorkflow.agency_event, AgencyEvent("complete", by="crew-1"))
    await chased_handle.result()

    await send(alert("h2", sent + timedelta(minutes=30), Level.ORANGE, Kind.UPDATE, ("h1",)))
    every = await until(lambda: _tasks_when(status, 28))
    await send(alert("h3", sent + timedelta(hours=2), Level.ORANGE, Kind.CANCEL, ("h2",)))
    orange = respond([ActiveWarning(Hazard.RAINSTORM, Level.ORANGE, ("pudong",))], plan).tasks
    stand = {t.id for t in orange if t.on_stand_down is StandDown.STAND_DOWN} - {chased_id}
    final = await until(lambda: _stood_down(status, stand))
    assert final is not None
    stood_down = [v.task_id for v in final.tasks if v.state == "stood_down"]
    # What the plan keeps after a stand-down is finished by its agency.
    for view in final.tasks:
        if view.state not in ("stood_down", "completed"):
            task = client.get_workflow_handle(task_workflow_id(view.task_id))
            await task.signal(TaskWorkflow.agency_event, AgencyEvent("complete", by="crew-2"))
    await handle.result()
    assert len(every) == 28 and stood_down
    return {
        "response-issue-upgrade-cancel": handle,
        "task-escalated-acknowledged-completed": chased_handle,
        "task-escalated-stood-down": client.get_workflow_handle(task_workflow_id(stood_down[0])),
    }


async def _tasks_when(status: Callable[[], Awaitable[ResponseStatus]], count: int) -> list[str]:
    tasks = (await status()).tasks
    return [v.task_id for v in tasks] if len(tasks) >= count else []


async def _stood_down(
    status: Callable[[], Awaitable[ResponseStatus]], plan_ids: set[str]
) -> ResponseStatus | None:
    """The status once every task in ``plan_ids`` is stood down and the levels are gone."""
    now = await status()
    done = {v.task_id.split("/", 1)[1] for v in now.tasks if v.state == "stood_down"}
    return now if not now.levels and done == plan_ids else None


async def _escalations(handle: WorkflowHandle[object, object], count: int) -> bool:
    fired = 0
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            kind = event.activity_task_scheduled_event_attributes.activity_type.name
            fired += kind == "record_escalation"
    return fired >= count


async def record(out_dir: Path) -> list[Path]:
    """Run the scenario on a scratch stack and write one JSON history per workflow."""
    written: list[Path] = []
    async with scratch_stack(region=REGION, task_queue="record-histories") as scratch:
        settings = scratch.settings
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(settings, stop))
        try:
            await asyncio.sleep(1.0)
            if running.done():
                running.result()
            client = await Client.connect(settings.temporal_address)
            handles = await drive(client, settings.task_queue)
            for name, handle in handles.items():
                history = await handle.fetch_history()
                path = out_dir / f"{name}.json"
                # The workflow id is part of what replays (response and task ids derive
                # from it), and the SDK's JSON leaves it out: keep it beside the events.
                document = {"workflow_id": handle.id, "history": history.to_json_dict()}
                path.write_text(json.dumps(document, indent=1) + "\n")
                written.append(path)
                log.info("wrote %s (%d events)", path, len(history.events))
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=60)
    return written


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(record(HERE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
