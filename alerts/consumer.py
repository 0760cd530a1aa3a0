"""Kafka intake of warnings: ``tidegate.alerts`` to the response workflows.

A valid alert that cannot be routed because Temporal is down is retried, never dead-lettered:
the alert is fine, the path is not. Bad payloads are dead-lettered by :class:`KafkaIntake`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from alerts.kafka import KafkaIntake, Refused
from alerts.route import submit

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from config.settings import Settings
    from plans.model import Plan

log = logging.getLogger("tidegate.intake")


class AlertConsumer(KafkaIntake):
    """Consumes ``tidegate.alerts`` (JSON or CAP 1.2 XML) while the worker runs."""

    def __init__(
        self,
        settings: Settings,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        plan: Plan,
    ) -> None:
        super().__init__(
            topic=settings.topic("alerts"),
            dlq=settings.topic("alerts.dlq"),
            group=f"{settings.consumer_group}.alerts",
            bootstrap=settings.kafka_bootstrap,
            producer=producer,
            sessions=sessions,
        )
        self._settings = settings
        self._client = client
        self._plan = plan

    async def process(self, payload: bytes) -> None:
        """Parse and route one alert."""
        try:
            alert = parse_alert(payload, plan=self._plan, max_bytes=self._settings.max_alert_bytes)
        except AlertRejected as exc:
            raise Refused(str(exc)) from None
        s = self._settings
        routed = await submit(self._client, s.task_queue, s.region, self._plan, alert)
        log.info("alert %s (%s) routed to %s", alert.id, alert.kind, routed.workflow_id)
