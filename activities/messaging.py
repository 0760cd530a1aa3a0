"""Kafka activities: task messages to agencies, escalation notices and public notices.

Every message is keyed by the id of what it is about (task id, escalation key, notice id) and
carries that id in its body, so a retried activity that sends twice is harmless: consumers and
agencies treat a second copy of the same id as the same message. The producer itself is
idempotent, so broker-side retries add no copies either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from temporalio import activity

from alerts.wire import (
    EscalationMessage,
    NoticeMessage,
    Outbound,
    StandDownMessage,
    TaskMessage,
    encode,
)
from plans import render
from plans.lifecycle import deadline, task_key
from plans.model import (
    Audience,
    EscalationKind,
    EscalationStep,
    Notice,
    Plan,
    Recipient,
    Task,
)

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer


class PlanSource(Protocol):
    """Where activities find the exact plan version a response pinned."""

    async def get(self, content_hash: str) -> Plan:
        """The plan with this content hash."""
        ...


class TopicNames(Protocol):
    """How topics are named (``Settings.topic``): a drill never writes to live topics."""

    def __call__(self, name: str, *, drill: bool = False) -> str:
        """Full topic name for ``name`` (e.g. ``tasks.drainage``)."""
        ...


@dataclass(frozen=True)
class PublishTasksInput:
    """Tasks to put on their agencies' topics, rendered with the pinned plan."""

    response_id: str
    drill: bool
    plan_hash: str
    tasks: tuple[Task, ...]
    issued_at: datetime
    dispatches: tuple[int, ...] = ()
    """Dispatch number per task (``plans.lifecycle.task_key``); empty means all first."""
    time_scale: float = 1.0
    """The response's clock: the deadline in the message is the one the task workflow keeps."""


@dataclass(frozen=True)
class PublishEscalationInput:
    """One escalation step for one unacknowledged task."""

    response_id: str
    task_id: str
    drill: bool
    plan_hash: str
    task: Task
    step_index: int
    step: EscalationStep
    at: datetime


@dataclass(frozen=True)
class PublishNoticesInput:
    """Public and transport notices for the response's current level."""

    response_id: str
    drill: bool
    plan_hash: str
    notices: tuple[Notice, ...]
    at: datetime


@dataclass(frozen=True)
class PublishStandDownInput:
    """Tell agencies that tasks are no longer required."""

    response_id: str
    drill: bool
    plan_hash: str
    tasks: tuple[Task, ...]
    at: datetime
    task_ids: tuple[str, ...] = ()
    """The id of each task's current dispatch; empty means every task's first."""


def throttle_metadata_retries(producer: AIOKafkaProducer, backoff_s: float = 0.1) -> None:
    """Pause ``backoff_s`` after each failed metadata refresh of ``producer`` (before start).

    Works around a busy loop in aiokafka 0.14: when a broker stops gracefully with batches in
    flight, their partitions lose their leader; the sender then asks for a metadata refresh,
    which fails at once against the closed port, and asks again, with no backoff. That is a
    full core and ~16,000 error log lines a second until Kafka is back (46 MB of worker log in
    ``tests/e2e/test_reliability.py``'s 30 s outage). Delivery once the broker returns is
    unchanged. It wraps a private method of the pinned aiokafka, so
    ``test_a_graceful_broker_stop_mid_send_does_not_spin_the_producer`` (tests/e2e) checks it
    still works after an upgrade.
    """
    client = producer.client
    refresh = client._metadata_update

    async def refresh_with_backoff(cluster: Any, topics: Any) -> bool:
        updated = bool(await refresh(cluster, topics))
        if not updated:
            await asyncio.sleep(backoff_s)
        return updated

    client._metadata_update = refresh_with_backoff


def task_message(
    response_id: str,
    task: Task,
    plan: Plan,
    drill: bool,
    issued_at: datetime,
    dispatch: int = 1,
    time_scale: float = 1.0,
) -> TaskMessage:
    """The task message for one dispatch of ``task`` (contract: :class:`TaskMessage`)."""
    return TaskMessage(
        task_id=task_key(response_id, task.id, dispatch),
        plan_task_id=task.id,
        dispatch=dispatch,
        response_id=response_id,
        agency=task.agency,
        action_id=task.action_id,
        area=task.area,
        asset=task.asset,
        hazard=task.hazard,
        response_level=task.response_level,
        issued_at=issued_at,
        deadline=deadline(issued_at, task.deadline_minutes, time_scale),
        ack_timeout_minutes=task.ack_timeout_minutes,
        instructions=render.render_task(plan, task),
        drill=drill,
        plan_id=plan.plan_id,
        plan_version=plan.version,
    )


class MessagingActivities:
    """Activities over an aiokafka producer (built and started once in ``worker.py``)."""

    def __init__(self, producer: AIOKafkaProducer, plans: PlanSource, topic: TopicNames) -> None:
        self._producer = producer
        self._plans = plans
        self._topic = topic

    async def _send_all(self, messages: list[tuple[str, str, Outbound]]) -> None:
        """Send (topic, key, message) triples and wait until the broker has every one."""
        pending: list[Awaitable[Any]] = [
            await self._producer.send(topic, encode(message), key=key.encode())
            for topic, key, message in messages
        ]
        await asyncio.gather(*pending)

    @activity.defn
    async def publish_tasks(self, inp: PublishTasksInput) -> int:
        """Put each task on ``tasks.<agency>``; returns how many messages were sent."""
        plan = await self._plans.get(inp.plan_hash)
        numbers = inp.dispatches or (1,) * len(inp.tasks)
        messages = [
            task_message(
                inp.response_id, task, plan, inp.drill, inp.issued_at, number, inp.time_scale
            )
            for task, number in zip(inp.tasks, numbers, strict=True)
        ]
        await self._send_all(
            [
                (self._topic(f"tasks.{task.agency}", drill=inp.drill), message.task_id, message)
                for task, message in zip(inp.tasks, messages, strict=True)
            ]
        )
        return len(inp.tasks)

    @activity.defn
    async def publish_stand_down(self, inp: PublishStandDownInput) -> None:
        """Tell each agency that a task is stood down (on its own task topic)."""
        plan = await self._plans.get(inp.plan_hash)
        ids = inp.task_ids or tuple(task_key(inp.response_id, task.id) for task in inp.tasks)
        await self._send_all(
            [
                (
                    self._topic(f"tasks.{task.agency}", drill=inp.drill),
                    task_id,
                    StandDownMessage(
                        task_id=task_id,
                        response_id=inp.response_id,
                        agency=task.agency,
                        action_id=task.action_id,
                        at=inp.at,
                        drill=inp.drill,
                        plan_version=plan.version,
                    ),
                )
                for task, task_id in zip(inp.tasks, ids, strict=True)
            ]
        )

    @activity.defn
    async def publish_escalation(self, inp: PublishEscalationInput) -> None:
        """Send one step of the 三单联动 chain to ``escalations``."""
        plan = await self._plans.get(inp.plan_hash)
        message = EscalationMessage(
            escalation_id=f"{inp.task_id}#esc{inp.step_index}",
            task_id=inp.task_id,
            response_id=inp.response_id,
            agency=inp.task.agency,
            area=inp.task.area,
            kind=EscalationKind(inp.step.kind),
            to=Recipient(inp.step.to),
            at=inp.at,
            text=render.render_escalation(plan, inp.task, inp.step),
            drill=inp.drill,
            plan_version=plan.version,
        )
        topic = self._topic("escalations", drill=inp.drill)
        await self._send_all([(topic, inp.task_id, message)])

    @activity.defn
    async def publish_notices(self, inp: PublishNoticesInput) -> None:
        """Send rendered public and transport notices to ``notices``."""
        plan = await self._plans.get(inp.plan_hash)
        await self._send_all(
            [
                (
                    self._topic("notices", drill=inp.drill),
                    f"{inp.response_id}/{notice.id}",
                    NoticeMessage(
                        notice_id=f"{inp.response_id}/{notice.id}",
                        response_id=inp.response_id,
                        audience=Audience(notice.audience),
                        area=notice.area,
                        at=inp.at,
                        text=render.render_notice(plan, notice),
                        drill=inp.drill,
                        plan_version=plan.version,
                    ),
                )
                for notice in inp.notices
            ]
        )
