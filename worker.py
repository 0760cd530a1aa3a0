"""Composition root: load settings once, build the clients, register everything, run.

One process runs the Temporal worker and the Kafka intake consumer. SIGINT or SIGTERM stops
the consumers first (no new work), then the worker (in-flight activities finish), then closes
the producer and the database engine.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from contextlib import AsyncExitStack
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from temporalio.client import Client
from temporalio.worker import Worker

from activities.messaging import MessagingActivities, Topics, throttle_metadata_retries
from activities.records import RecordActivities
from activities.tracking import TrackingActivities
from alerts.agency_events import AgencyEventConsumer
from alerts.consumer import AlertConsumer
from config.errors import ConfigError
from config.settings import Settings, load_settings
from drills.schedule import DrillScheduler
from plans.loader import load_plan
from store.db import create_engine, session_maker
from store.plans import PlanLibrary
from workflows.converter import DATA_CONVERTER
from workflows.response import ResponseWorkflow
from workflows.task import TaskWorkflow

log = logging.getLogger("tidegate.worker")


async def connect_temporal(settings: Settings) -> Client:
    """Connect to Temporal; an unreachable server is a ConfigError saying what to do."""
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=DATA_CONVERTER,
        )
    except Exception as exc:
        raise ConfigError(
            f"cannot reach Temporal at {settings.temporal_address} ({exc.__class__.__name__}); "
            "start the stack with `make run` or set TIDEGATE_TEMPORAL_ADDRESS"
        ) from None


async def start_producer(settings: Settings) -> AIOKafkaProducer:
    """Start an idempotent producer, or explain that the broker is unreachable."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, linger_ms=5
    )
    throttle_metadata_retries(producer)
    try:
        await producer.start()
    except Exception as exc:
        await producer.stop()
        raise ConfigError(
            f"cannot reach Kafka at {settings.kafka_bootstrap} ({exc.__class__.__name__}); "
            "start the stack with `make run` or set TIDEGATE_KAFKA_BOOTSTRAP"
        ) from None
    return producer


def build_worker(
    settings: Settings,
    client: Client,
    records: RecordActivities,
    messaging: MessagingActivities,
    tracking: TrackingActivities,
) -> Worker:
    """The Temporal worker with every workflow and activity tidegate has."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_timeout_seconds),
        workflows=[ResponseWorkflow, TaskWorkflow],
        activities=[
            records.record_response,
            records.record_levels,
            records.record_warning,
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


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Run the worker and consumers until ``stop`` is set."""
    plan = load_plan(settings.plan_path)
    async with AsyncExitStack() as stack:
        client = await connect_temporal(settings)
        engine = create_engine(settings.db_url)
        stack.push_async_callback(engine.dispose)
        sessions = session_maker(engine)
        producer = await start_producer(settings)
        stack.push_async_callback(producer.stop)
        topics = Topics(settings.topic_prefix, settings.drill_topic_prefix)
        records = RecordActivities(sessions)
        messaging = MessagingActivities(producer, PlanLibrary(sessions, plan), topics)
        tracking = TrackingActivities(client, sessions)
        worker = build_worker(settings, client, records, messaging, tracking)
        await stack.enter_async_context(worker)
        for consumer in (
            AlertConsumer(settings, client, sessions, producer, plan),
            AgencyEventConsumer(settings, client, sessions, producer),
            AgencyEventConsumer(settings, client, sessions, producer, drill=True),
        ):
            await stack.enter_async_context(consumer)
        await stack.enter_async_context(DrillScheduler(settings))
        log.info("tidegate worker running on task queue %r", settings.task_queue)
        await stop.wait()
        log.info("stopping")


def main() -> int:
    """Entry point for ``python worker.py`` and ``tidegate worker``."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # group joins are not news
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"tidegate: {exc}\n")
        return 2

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    try:
        asyncio.run(_main())
    except ConfigError as exc:
        sys.stderr.write(f"tidegate: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    from cli.exit import exit_now

    exit_now(main())
