"""Agencies talk back: ``tidegate.tasks.events.<agency>`` to the task workflows.

An event names a task by its id and says ``acknowledge``, ``progress``, ``complete`` or
``decline`` (a decline needs a reason). Each becomes a signal to that task's workflow
(``task:<task id>``). Malformed events, events for unknown or already closed tasks and events
for another agency's tasks are dead-lettered with the reason. The CLI (``tidegate agency ack
...``) uses the same parser and the same delivery.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pydantic import ValidationError

from access.matrix import Principal, Role
from alerts import wire
from alerts.kafka import KafkaIntake, Refused
from config.kafka import client_options
from runtime.ops import agency_user, events_topic
from workflows.tracking import AnswerRoute, Unanswerable, answer_task
from workflows.types import AgencyEvent

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from config.settings import Settings

log = logging.getLogger("tidegate.intake")

MAX_EVENT_BYTES = wire.MAX_ANSWER_BYTES
MAX_TASK_ID_CHARS = wire.MAX_TASK_ID_CHARS
MAX_BY_CHARS = wire.MAX_BY_CHARS
MAX_NOTE_CHARS = wire.MAX_NOTE_CHARS


@dataclass(frozen=True)
class TaskEvent:
    """A parsed agency event."""

    task_id: str
    event: AgencyEvent


def parse_event(payload: bytes) -> TaskEvent:
    """Validate an agency event (:class:`alerts.wire.AgencyAnswer`, ``docs/messages.md``).

    The whole document must be plain JSON of at most :data:`MAX_EVENT_BYTES`: no duplicate
    keys, ``NaN``/``Infinity``, oversized numbers or absurd nesting, even in keys that are
    otherwise ignored.

    Raises:
        Refused: Naming what is wrong.
    """
    if len(payload) > MAX_EVENT_BYTES:
        raise Refused(f"event is {len(payload)} bytes, over the {MAX_EVENT_BYTES} byte limit")
    data = _load(payload)
    try:
        answer = wire.AgencyAnswer.model_validate(data)
    except ValidationError as exc:
        raise Refused(wire.answer_problem(exc, data)) from None
    return TaskEvent(
        answer.task_id, AgencyEvent(kind=answer.kind, by=answer.by or "", note=answer.said)
    )


def _load(payload: bytes) -> object:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"not UTF-8 JSON: {exc}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise Refused(f"not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise Refused("not UTF-8 JSON: nested too deeply") from None
    except ValueError as exc:  # an integer over Python's digit limit
        raise Refused(f"not UTF-8 JSON: {exc}") from None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:
            raise Refused(f"{key!r} appears twice")
        found[key] = value
    return found


def _no_constant(name: str) -> object:
    raise Refused(f"not UTF-8 JSON: {name} is not allowed")


async def deliver(route: AnswerRoute, event: TaskEvent) -> None:
    """Hand an answer to its task's workflow; an unanswerable one is :class:`Refused`."""
    try:
        await answer_task(route, event.task_id, event.event)
    except Unanswerable as exc:
        raise Refused(exc.reason) from None


class AgencyEventConsumer(KafkaIntake):
    """Consumes every agency's ``tidegate.tasks.events.<agency>`` (or the drill twins) while
    the worker runs.

    The topic says which agency answers: only that agency's Kafka user may write to it
    (:func:`runtime.ops.agency_acls`), and an answer for another agency's task is refused.
    """

    def __init__(
        self,
        settings: Settings,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        agencies: Sequence[str],
        *,
        drill: bool = False,
    ) -> None:
        self._agencies = {events_topic(settings, a, drill=drill): a for a in agencies}
        super().__init__(
            topics=list(self._agencies),
            dlq=settings.topic("tasks.events.dlq", drill=drill),
            group=f"{settings.consumer_group}.events{'.drill' if drill else ''}",
            client=client_options(settings),
            producer=producer,
            sessions=sessions,
        )
        self._route = AnswerRoute(client, sessions, settings.task_queue, drill)
        self._authenticated = settings.kafka_security_protocol != "PLAINTEXT"

    async def process(self, payload: bytes, topic: str, *, origin: str) -> None:
        """Parse and deliver one agency event, as an answer of the topic's agency.

        A live answer is delivered and audited by :func:`access.answers.answer_from_topic`,
        as the agency's Kafka user; drill answers are the drill's (its report), not the trail's.
        """
        agency = self._agencies[topic]
        route = replace(self._route, agency=agency)
        if route.drill:
            event = parse_event(payload)
            await deliver(route, event)
        else:
            from access.answers import answer_from_topic  # it imports this module

            who = topic_principal(topic, agency, authenticated=self._authenticated)
            event = await answer_from_topic(
                self._sessions, route, who, payload, source=f"kafka:{topic}", key=f"kafka:{origin}"
            )
        log.info("task %s: %s (%s)", event.task_id, event.event.kind, agency)


def topic_principal(topic: str, agency: str, *, authenticated: bool) -> Principal:
    """Who answers on ``topic``, an agency's own events topic.

    With SASL the ACLs let only the agency's Kafka user (``agency-<id>``) write there (and
    tidegate's own, a super user), so that user is named; on a ``PLAINTEXT`` cluster nobody
    is authenticated and the topic (``kafka:<topic>``) is named instead. Either way the topic
    binds the answer to its agency, as an ``agency_system`` of it.
    """
    name = agency_user(agency) if authenticated else f"kafka:{topic}"
    return Principal(name=name, role=Role.AGENCY_SYSTEM, agency=agency, via="kafka")
