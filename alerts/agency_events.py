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
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alerts.kafka import KafkaIntake, Refused
from workflows.tracking import AnswerRoute, Unanswerable, answer_task
from workflows.types import AgencyEvent

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from config.settings import Settings

log = logging.getLogger("tidegate.intake")

KINDS = ("acknowledge", "progress", "complete", "decline")
MAX_EVENT_BYTES = 64 * 1024
MAX_TASK_ID_CHARS = 300
"""A task id is ``<response id>/<plan task id>``; the ``tasks`` table keys it in 300 chars."""
MAX_BY_CHARS = 200
"""Who answered: a team, desk or person, one line."""
MAX_NOTE_CHARS = 2000
"""A note or a decline's reason: a few sentences; newlines and tabs allowed."""

# Refused at the edge: what is valid JSON but cannot travel further. Lone surrogates (JSON
# "\ud800" escapes) cannot be encoded as UTF-8 for a workflow id or a database row,
# PostgreSQL text cannot hold NUL, and control characters have no place in an id or a name.
_ID_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f\ud800-\udfff]")
_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_NOTE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class TaskEvent:
    """A parsed agency event."""

    task_id: str
    event: AgencyEvent


def parse_event(payload: bytes) -> TaskEvent:
    """Validate an agency event; raises :class:`Refused` naming what is wrong.

    Fields (see ``docs/messages.md``): ``task_id`` (1-300 characters, ``<response id>/<plan
    task id>``, no whitespace or control characters), ``kind`` (one of :data:`KINDS`), ``by``
    (optional, one line of at most 200 characters), ``reason`` or ``note`` (optional, at most
    2,000 characters; a decline needs one). Other keys are ignored, but the whole document must
    be plain JSON: no duplicate keys, ``NaN``/``Infinity``, oversized numbers or absurd nesting.
    """
    if len(payload) > MAX_EVENT_BYTES:
        raise Refused(f"event is {len(payload)} bytes, over the {MAX_EVENT_BYTES} byte limit")
    data = _load(payload)
    if not isinstance(data, dict):
        raise Refused("an event must be a JSON object")
    task_id, kind = _task_id(data.get("task_id")), data.get("kind")
    if kind not in KINDS:
        raise Refused(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    by = _string(data, "by", MAX_BY_CHARS, _LINE_FORBIDDEN)
    note = _string(data, "reason", MAX_NOTE_CHARS, _NOTE_FORBIDDEN) or _string(
        data, "note", MAX_NOTE_CHARS, _NOTE_FORBIDDEN
    )
    if kind == "decline" and not note.strip():
        raise Refused("reason: a decline must say why")
    return TaskEvent(task_id, AgencyEvent(kind=kind, by=by, note=note))


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


def _task_id(value: object) -> str:
    if not isinstance(value, str) or "/" not in value:
        raise Refused("task_id: missing or not a task id (<response id>/<plan task id>)")
    if len(value) > MAX_TASK_ID_CHARS:
        raise Refused(f"task_id: {len(value)} characters, over {MAX_TASK_ID_CHARS}")
    bad = _ID_FORBIDDEN.search(value)
    if bad:
        raise Refused(
            f"task_id: contains {bad.group()!r}; whitespace and control characters are not allowed"
        )
    return value


def _string(data: dict[str, object], key: str, limit: int, forbidden: re.Pattern[str]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refused(f"{key}: must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise Refused(f"{key}: {len(value)} characters, over {limit}")
    bad = forbidden.search(value)
    if bad:
        raise Refused(f"{key}: contains {bad.group()!r}, which is not allowed")
    return value


async def deliver(route: AnswerRoute, event: TaskEvent) -> None:
    """Hand an answer to its task's workflow; an unanswerable one is :class:`Refused`."""
    try:
        await answer_task(route, event.task_id, event.event)
    except Unanswerable as exc:
        raise Refused(exc.reason) from None


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
        self._route = AnswerRoute(client, sessions, settings.task_queue, drill)

    async def process(self, payload: bytes) -> None:
        """Parse and deliver one agency event."""
        event = parse_event(payload)
        await deliver(self._route, event)
        log.info("task %s: %s", event.task_id, event.event.kind)
