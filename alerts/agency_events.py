"""Agencies talk back: ``tidegate.tasks.events`` to the task workflows.

An event names a task by its id and says ``acknowledge``, ``progress``, ``complete`` or
``decline`` (a decline needs a reason). Each becomes a signal to that task's workflow
(``task:<task id>``). Malformed events and events for unknown or already closed tasks are
dead-lettered with the reason. The CLI (``tidegate agency ack ...``) uses the same parser and
the same delivery.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio.service import RPCError, RPCStatusCode

from alerts.kafka import KafkaIntake, Refused
from workflows.task import TaskWorkflow
from workflows.types import AgencyEvent

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from config.settings import Settings

log = logging.getLogger("tidegate.intake")

KINDS = ("acknowledge", "progress", "complete", "decline")
MAX_EVENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class TaskEvent:
    """A parsed agency event."""

    task_id: str
    event: AgencyEvent


def parse_event(payload: bytes) -> TaskEvent:
    """Validate an agency event; raises :class:`Refused` naming what is wrong."""
    if len(payload) > MAX_EVENT_BYTES:
        raise Refused(f"event is {len(payload)} bytes, over the {MAX_EVENT_BYTES} byte limit")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Refused("an event must be a JSON object")
    task_id, kind = data.get("task_id"), data.get("kind")
    if not isinstance(task_id, str) or "/" not in task_id:
        raise Refused("task_id: missing or not a task id (<response id>/<plan task id>)")
    if kind not in KINDS:
        raise Refused(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    by, note = data.get("by", ""), data.get("reason") or data.get("note") or ""
    if not isinstance(by, str) or not isinstance(note, str):
        raise Refused("by, note and reason must be strings")
    if kind == "decline" and not note.strip():
        raise Refused("reason: a decline must say why")
    return TaskEvent(task_id, AgencyEvent(kind=kind, by=by, note=note))


async def deliver(client: Client, event: TaskEvent) -> None:
    """Signal the task's workflow; unknown or closed tasks are refused."""
    handle = client.get_workflow_handle(f"task:{event.task_id}")
    try:
        await handle.signal(TaskWorkflow.agency_event, event.event)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise Refused(f"task_id: no open task {event.task_id!r}") from None
        raise


class AgencyEventConsumer(KafkaIntake):
    """Consumes ``tidegate.tasks.events`` (and the drill twin) while the worker runs."""

    def __init__(
        self,
        settings: Settings,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        *,
        drill: bool = False,
    ) -> None:
        super().__init__(
            topic=settings.topic("tasks.events", drill=drill),
            dlq=settings.topic("tasks.events.dlq", drill=drill),
            group=f"{settings.consumer_group}.events{'.drill' if drill else ''}",
            bootstrap=settings.kafka_bootstrap,
            producer=producer,
            sessions=sessions,
        )
        self._client = client

    async def process(self, payload: bytes) -> None:
        """Parse and deliver one agency event."""
        event = parse_event(payload)
        await deliver(self._client, event)
        log.info("task %s: %s", event.task_id, event.event.kind)
