"""The simulated agencies at work: read the drill's tasks from Kafka, answer them on time.

The desk consumes every ``tidegate.drill.tasks.<agency>`` topic (only its own drill's messages,
by response id), asks :mod:`drills.agencies` whether and when each agency answers a task, and
puts the answers on the drill's :class:`~drills.clock.Agenda`. A stand-down message cancels the
answers still due for that task.

How answers travel depends on the mode (see ``docs/drills.md``):

* ``--speed``: as JSON on the agency's ``tidegate.drill.tasks.events.<agency>``, the agencies'
  real channel, which the worker's drill event consumer turns into signals
  (:class:`KafkaResponder`).
* ``--fast``: through the same parser and delivery function straight to the task workflow
  (:class:`SignalResponder`). The agenda must know an answer has landed before it skips
  virtual time on, and a Kafka round trip per answer would cost more wall time than the whole
  storm is allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.agency_events import deliver, parse_event
from alerts.kafka import Refused
from drills.agencies import Profiles
from drills.clock import Agenda, Timebase
from runtime.ops import events_topic
from workflows.tracking import AnswerRoute

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from config.settings import Settings

AGENCY_NAME = "drill-agency"
"""The ``by`` of every simulated answer."""


ANSWER_OFFSET_MINUTES = 0.5
"""Answers land half a minute after the drawn whole minute. Every plan timer of a task
(escalation steps, deadline) is a whole number of minutes after dispatch, and Temporal's
time-skipping test server wedges a workflow whose signal arrives in the very instant one of its
timers fires ("invalid history builder state for action")."""


class Responder(Protocol):
    """How a simulated agency's answer reaches the task workflow."""

    async def answer(self, task_id: str, agency: str, kind: str) -> bool:
        """Deliver one event of ``agency``; False when the task is already closed (refused)."""
        ...


def event_body(task_id: str, kind: str) -> bytes:
    """An agency event in the documented form (``alerts.agency_events``)."""
    return json.dumps({"task_id": task_id, "kind": kind, "by": AGENCY_NAME}).encode()


class SignalResponder:
    """Parse the event like the Kafka consumer does, then deliver it as the consumer does."""

    def __init__(self, route: AnswerRoute) -> None:
        self._route = route

    async def answer(self, task_id: str, agency: str, kind: str) -> bool:
        """Hand the answer to the task's workflow, as the agency's; a closed task refuses."""
        try:
            route = replace(self._route, agency=agency)
            await deliver(route, parse_event(event_body(task_id, kind)))
        except Refused:
            return False
        return True


class KafkaResponder:
    """Publish the event on the agency's drill events topic, as an agency's system would."""

    def __init__(self, producer: AIOKafkaProducer, settings: Settings) -> None:
        self._producer = producer
        self._settings = settings

    async def answer(self, task_id: str, agency: str, kind: str) -> bool:
        """Send the event; the worker's drill consumer delivers (or dead-letters) it."""
        topic = events_topic(self._settings, agency, drill=True)
        await self._producer.send_and_wait(topic, event_body(task_id, kind), key=task_id.encode())
        return True


@dataclass
class DeskStats:
    """What the simulated agencies saw and did, for the progress display and the report."""

    tasks: dict[str, str] = field(default_factory=dict)
    """Task id to agency, for every task message of this drill."""
    stood_down: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    """Tasks the agency decided never to answer."""
    answers: Counter[str] = field(default_factory=Counter)
    """Answers delivered, by kind (``acknowledge``, ``complete``)."""
    refused: int = 0
    """Answers that found their task already closed (e.g. stood down meanwhile)."""


class Desk:
    """Reads the drill's task messages and schedules the simulated agencies' answers."""

    def __init__(
        self,
        *,
        client: Mapping[str, Any],
        partitions: list[TopicPartition],
        response_prefix: str,
        profiles: Profiles,
        seed: int,
        agenda: Agenda,
        timebase: Timebase,
        responder: Responder,
        on_closing: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._partitions = partitions
        self._prefix = response_prefix
        self._profiles = profiles
        self._seed = seed
        self._agenda = agenda
        self._timebase = timebase
        self._responder = responder
        self._on_closing = on_closing
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.stats = DeskStats()

    async def __aenter__(self) -> Desk:
        """Pin the end of every topic before the drill sends anything, then start reading."""
        consumer = AIOKafkaConsumer(**self._client, group_id=None, enable_auto_commit=False)
        await consumer.start()
        self._consumer = consumer
        partitions = self._partitions
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)  # resolve now, not lazily after messages arrive
        self._task = asyncio.create_task(self._read(consumer))
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def seen(self, task_ids: set[str]) -> bool:
        """Whether every one of ``task_ids`` has reached the desk."""
        return task_ids <= self.stats.tasks.keys()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self._handle(json.loads(record.value or b"{}"))

    def _handle(self, message: dict[str, Any]) -> None:
        if not str(message.get("response_id", "")).startswith(self._prefix):
            return
        task_id = str(message.get("task_id", ""))
        if message.get("type") == "stand_down":
            self.stats.stood_down.add(task_id)
            self._closing(task_id)
        elif message.get("type") == "task" and task_id not in self.stats.tasks:
            self._schedule(task_id, str(message["agency"]), message["issued_at"])

    def _schedule(self, task_id: str, agency: str, issued_at: str) -> None:
        self.stats.tasks[task_id] = agency
        plan_task_id = task_id.split("/", 1)[1]
        answer = self._profiles.decide(self._seed, plan_task_id, agency)
        if answer.acknowledge_after is None or answer.complete_after is None:
            self.stats.silent.add(task_id)
            return
        issued = datetime.fromisoformat(issued_at)
        for kind, minutes in (
            ("acknowledge", answer.acknowledge_after),
            ("complete", answer.complete_after),
        ):
            # Half a minute off the plan's whole-minute timers: see ANSWER_OFFSET_MINUTES.
            delay = self._timebase.duration(minutes + ANSWER_OFFSET_MINUTES)
            self._agenda.at(issued + delay, self._answer_later(task_id, agency, kind))

    def _answer_later(self, task_id: str, agency: str, kind: str) -> Any:
        async def answer() -> None:
            if task_id in self.stats.stood_down:
                return
            if await self._responder.answer(task_id, agency, kind):
                self.stats.answers[kind] += 1
                if kind == "complete":
                    self._closing(task_id)
            else:
                self.stats.refused += 1

        return answer

    def _closing(self, task_id: str) -> None:
        if self._on_closing is not None:
            self._on_closing(task_id)
