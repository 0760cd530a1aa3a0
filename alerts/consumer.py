"""Kafka intake of warnings: ``tidegate.alerts`` to the response workflows.

A valid alert that cannot be routed because Temporal is down is retried, never dead-lettered:
the alert is fine, the path is not. Bad payloads are dead-lettered by :class:`KafkaIntake`.

Each alert handed on gets one decision record on ``tidegate.alerts.decisions``, keyed by its
id (``docs/messages.md``): the response's decision once it is logged, or ``pending`` if that
takes longer than ``Settings.decision_wait_seconds``. The wait runs beside the consume loop
(:class:`alerts.decisions.DecisionWatch`), so it never slows intake down.

Each alert handed on is in the audit trail as ``warning.received`` from the feed
:func:`feed_actor` names, and a refused one as ``failed`` (both keyed by the record's
position, so a record read again adds nothing).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING, Self

from access.audit import FEED, Actor, Note, warning_note, write_now
from alerts.decisions import DecisionReport, DecisionWatch, lookup_hint
from alerts.errors import AlertRejected
from alerts.intake import parse_alert
from alerts.kafka import KafkaIntake, Refusal, Refused
from alerts.wire import DecisionRecord, encode
from config.kafka import client_options
from workflows.starters import submit

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
            topics=[settings.topic("alerts")],
            dlq=settings.topic("alerts.dlq"),
            group=f"{settings.consumer_group}.alerts",
            client=client_options(settings),
            producer=producer,
            sessions=sessions,
        )
        self._settings = settings
        self._client = client
        self._plan = plan
        self._decision_topic = settings.topic("alerts.decisions")
        self._decisions = DecisionWatch(
            sessions, self._publish_decision, settings.decision_wait_seconds
        )

    async def __aenter__(self) -> Self:
        await self._decisions.__aenter__()
        try:
            return await super().__aenter__()
        except BaseException:
            await self._decisions.__aexit__(None, None, None)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self._decisions.__aexit__(exc_type, exc, tb)

    async def process(self, payload: bytes, topic: str, *, origin: str) -> None:
        """Parse and route one alert; audited once it is handed on."""
        try:
            alert = parse_alert(payload, plan=self._plan, max_bytes=self._settings.max_alert_bytes)
        except AlertRejected as exc:
            raise Refused(str(exc)) from None
        s = self._settings
        after = await self._decisions.position()  # before the hand-off: see alerts.decisions
        routed = await submit(self._client, s.task_queue, s.region, self._plan, alert)
        log.info("alert %s (%s) routed to %s", alert.id, alert.kind, routed.workflow_id)
        note = warning_note(
            feed_actor(topic), source=f"kafka:{topic}", alert=alert, key=f"kafka:{origin}",
            sender=alert.sender, workflow_id=routed.workflow_id,
        )  # fmt: skip
        await write_now(self._sessions, note)
        self._decisions.expect(alert, routed.workflow_id, after)

    def audit_refusal(self, refusal: Refusal) -> Note:
        """A refused warning: ``warning.received``, ``failed``, with the reason."""
        topic = refusal.record.topic
        return warning_note(
            feed_actor(topic), source=f"kafka:{topic}", alert=None, outcome="failed",
            reason=refusal.reason, key=f"kafka:{refusal.source}",
        )  # fmt: skip

    async def _publish_decision(self, report: DecisionReport) -> None:
        """One decision record, keyed by the alert's id."""
        await self._producer.send_and_wait(
            self._decision_topic, encode(decision_record(report)), key=report.alert_id.encode()
        )


def feed_actor(topic: str) -> Actor:
    """Who a warning read from ``topic`` is from, for the audit trail: ``kafka:<topic>``.

    No feed has a Kafka user of its own: only tidegate's user (a super user) may write to
    ``tidegate.alerts``, so the topic's ACLs name no one in particular and the trail names the
    topic, with the role ``feed``; what the warning says of its sender is in the detail.
    """
    return Actor(f"kafka:{topic}", FEED)


def decision_record(report: DecisionReport) -> DecisionRecord:
    """The record of ``report`` on ``tidegate.alerts.decisions``: what every channel reports
    (:meth:`DecisionReport.to_json`), and where the decision that stands can be looked up."""
    body = {**report.to_json(), "lookup": lookup_hint(report.alert_id)}
    return DecisionRecord.model_validate(body, strict=False)  # to_json's times are strings
