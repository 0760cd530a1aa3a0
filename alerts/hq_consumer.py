"""Kafka intake of the HQ's decisions: ``tidegate.hq.decisions`` to the region's response.

The HQ's own system writes decisions there in the form of ``docs/messages.md`` ("HQ
decisions"), logged in as the Kafka user ``hq``, the only one (besides tidegate's) the topic's
ACL lets write (``runtime.ops.hq_acls``). A decision read there therefore acts with the city
HQ's authority; the ACL is the check, as an agency's events topic is for its answers.

Each decision is read as every channel reads it (:func:`alerts.hq.parse_decision`) and handed
to the region's live response (:func:`workflows.starters.declare`), whose ledger drops the same
decision seen twice (same id, or same content) as a ``duplicate``: a record read again after a
crash is harmless. A decision that cannot be read is dead-lettered on
``tidegate.hq.decisions.dlq`` with the reason, by :class:`~alerts.kafka.KafkaIntake`. Both are
in the audit trail (``hq.decision``, keyed by the record's position).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from access.audit import Actor, Note, write_now
from alerts.errors import AlertRejected
from alerts.hq import hq_note, parse_decision
from alerts.kafka import KafkaIntake, Refusal, Refused
from config.kafka import client_options
from runtime.ops import HQ_USER
from workflows.starters import declare

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from config.settings import Settings
    from plans.model import Plan

log = logging.getLogger("tidegate.intake")

TOPIC = "hq.decisions"
DLQ = "hq.decisions.dlq"
HQ_SYSTEM = "hq_system"
"""Audit role of a decision read from the HQ's topic (the ACL names its one writer)."""


class HqDecisionConsumer(KafkaIntake):
    """Consumes ``tidegate.hq.decisions`` while the worker runs."""

    def __init__(
        self,
        settings: Settings,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        plan: Plan,
    ) -> None:
        super().__init__(
            topics=[settings.topic(TOPIC)],
            dlq=settings.topic(DLQ),
            group=f"{settings.consumer_group}.hq",
            client=client_options(settings),
            producer=producer,
            sessions=sessions,
        )
        self._settings = settings
        self._client = client
        self._plan = plan

    async def process(self, payload: bytes, topic: str, *, origin: str) -> None:
        """Read one decision and hand it to the region's live response."""
        try:
            decision = parse_decision(payload, self._plan, decided_by=HQ_USER)
        except AlertRejected as exc:
            raise Refused(str(exc)) from None
        s = self._settings
        workflow_id = await declare(self._client, s.task_queue, s.region, self._plan, decision)
        log.info("HQ decision %s (%s) handed to %s", decision.id, decision.kind, workflow_id)
        note = hq_note(
            hq_actor(topic), source=f"kafka:{topic}", decision=decision, key=f"kafka:{origin}"
        )
        await write_now(self._sessions, note)

    def audit_refusal(self, refusal: Refusal) -> Note:
        """A refused decision: ``hq.decision``, ``failed``, with the reason."""
        topic = refusal.record.topic
        return hq_note(
            hq_actor(topic), source=f"kafka:{topic}", decision=None, outcome="failed",
            reason=refusal.reason, key=f"kafka:{refusal.source}",
        )  # fmt: skip


def hq_actor(topic: str) -> Actor:
    """Who a decision read from ``topic`` is from, for the audit trail: ``kafka:<topic>``."""
    return Actor(f"kafka:{topic}", HQ_SYSTEM)
