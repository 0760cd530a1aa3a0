"""What a tidegate worker runs: every workflow and activity, and the Kafka intakes beside them.

Used by ``worker.py`` and by ``--fast`` drills, which run the very same wiring against their own
time-skipping server and task queue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.worker import Worker

from activities.messaging import MessagingActivities
from activities.records import RecordActivities
from activities.tracking import TrackingActivities
from alerts.agency_events import AgencyEventConsumer
from alerts.consumer import AlertConsumer
from alerts.hq_consumer import HqDecisionConsumer
from workflows.response import ResponseWorkflow
from workflows.task import TaskWorkflow

if TYPE_CHECKING:
    from alerts.kafka import KafkaIntake
    from runtime.services import Runtime


async def build_worker(rt: Runtime) -> Worker:
    """The Temporal worker with every workflow and activity tidegate has."""
    settings = rt.settings
    client = await rt.temporal()
    records = RecordActivities(rt.sessions, rt.plans)
    messaging = MessagingActivities(await rt.producer(), rt.plans, settings.topic)
    tracking = TrackingActivities(client, rt.sessions)
    return Worker(
        client,
        task_queue=settings.task_queue,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_timeout_seconds),
        workflows=[ResponseWorkflow, TaskWorkflow],
        activities=[
            records.record_response,
            records.record_levels,
            records.record_warning,
            records.record_hq_decision,
            records.record_tasks,
            records.record_task_transition,
            records.record_escalation,
            messaging.publish_tasks,
            messaging.publish_stand_down,
            messaging.publish_escalation,
            messaging.publish_notices,
            tracking.start_tracking,
        ],
    )


async def build_intakes(rt: Runtime) -> list[KafkaIntake]:
    """The Kafka consumers: warnings and the HQ's decisions in, and agencies' answers for live
    and drill tasks."""
    settings, client, producer = rt.settings, await rt.temporal(), await rt.producer()
    agencies = [agency.id for agency in rt.plan.agencies]
    return [
        AlertConsumer(settings, client, rt.sessions, producer, rt.plan),
        HqDecisionConsumer(settings, client, rt.sessions, producer, rt.plan),
        AgencyEventConsumer(settings, client, rt.sessions, producer, agencies),
        AgencyEventConsumer(settings, client, rt.sessions, producer, agencies, drill=True),
    ]
