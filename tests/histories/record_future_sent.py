"""Record ``response-future-sent-stale.json``: a response stuck behind a ``sent`` in 2199.

Usage (from the repository root, after ``make setup``)::

    .venv/bin/python tests/histories/record_future_sent.py

Before intake refused a ``sent`` in the future, a warning sent ``2199-01-01`` was applied, and
an upgrade and a cancel sent afterwards (both naming it) were decided ``stale``. Responses like
that may still be running. The ledger now lets such messages apply (``plans.ledger``, rule 5);
``workflow.patched`` asked per message keeps the recorded decisions on replay. The committed
file was recorded at a33381a, before that rule: replaying it with today's code must keep both
``stale`` decisions (``tests/workflows/test_replay.py``), and without the per-message patch
it would not (``tests/workflows/test_ledger_replay.py``).

Like ``record.py`` it runs on a throw-away stack (:mod:`devstack.scratch`) with the production
worker in-process. The response is left running (its warning never ends) and is terminated
after its history was saved.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from temporalio.client import Client, WorkflowHandle

import worker
from devstack.scratch import scratch_stack
from plans.loader import load_plan
from plans.model import Level
from plans.warning import Kind
from tests.histories.record import REGION, alert, until
from workflows.starters import response_workflow_id, submit

log = logging.getLogger("record")

HERE = Path(__file__).resolve().parent
NAME = "response-future-sent-stale"
MISTYPED = datetime(2199, 1, 1, tzinfo=UTC)


async def drive(client: Client, task_queue: str) -> WorkflowHandle[object, object]:
    """A 2199 blue warning, then an orange upgrade and a cancel sent now, both naming it."""
    plan = load_plan()
    handle = client.get_workflow_handle(response_workflow_id(REGION, False))
    now = datetime.now(UTC)
    messages = (
        alert("f1", MISTYPED, Level.BLUE, Kind.ALERT, ()),
        alert("f2", now, Level.ORANGE, Kind.UPDATE, ("f1",)),
        alert("f3", now, Level.ORANGE, Kind.CANCEL, ("f1",)),
    )
    for count, message in enumerate(messages, 1):
        await submit(client, task_queue, REGION, plan, message)
        await until(functools.partial(_recorded_warnings, handle, count))
    return handle


async def _recorded_warnings(handle: WorkflowHandle[object, object], count: int) -> bool:
    done = 0
    scheduled: dict[int, str] = {}
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
        if event.HasField("activity_task_completed_event_attributes"):
            started = event.activity_task_completed_event_attributes.scheduled_event_id
            done += scheduled.get(started) == "record_warning"
    return done >= count


async def record(out_dir: Path) -> Path:
    """Run the scenario on a scratch stack and write its history."""
    async with scratch_stack(region=REGION, task_queue="record-histories") as scratch:
        settings = scratch.settings
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(settings, stop))
        try:
            await asyncio.sleep(1.0)
            if running.done():
                running.result()
            client = await Client.connect(settings.temporal_address)
            handle = await drive(client, settings.task_queue)
            await asyncio.sleep(1.0)  # let the last workflow task complete
            history = await handle.fetch_history()
            path = out_dir / f"{NAME}.json"
            document = {"workflow_id": handle.id, "history": history.to_json_dict()}
            path.write_text(json.dumps(document, indent=1) + "\n")
            log.info("wrote %s (%d events)", path, len(history.events))
            await handle.terminate("history recorded")
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=60)
    return path


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(record(HERE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
