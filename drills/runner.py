"""Run a drill: replay a storm's warnings through the real intake, plans and workflows.

``--fast`` (:func:`run_fast`) starts Temporal's time-skipping test server in this process and
runs the production worker wiring (``worker.build_worker`` with the real database and Kafka)
against it, so a three-day storm replays in seconds of wall time. ``--speed N``
(:func:`run_speed`) uses the configured services and the running worker, N storm minutes per
real minute, with every plan timer divided by N.

With ``with_hq_decisions`` the HQ's recorded decisions (the timeline's ``response`` entries)
are replayed beside the warnings, as HQ decisions through the same intake
(:func:`alerts.hq.parse_decision`, then :func:`workflows.starters.declare`).

Either way the drill has a region of its own (``<region>-<storm>-<run id>``), hence its own
workflow id ``drill-<region>-<storm>-<run id>``, writes only to ``tidegate.drill.*`` topics
(the response runs as a drill because every alert has status ``exercise``), and leaves live
responses alone. Its data is selected afterwards by its response id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer, TopicPartition
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from alerts.hq import parse_decision
from alerts.intake import parse_alert
from config.kafka import client_options
from config.settings import Settings
from drills.agencies import Profiles, load_profiles
from drills.clock import Agenda, Clock, RealClock, Timebase
from drills.desk import Desk, KafkaResponder, Responder, SignalResponder
from drills.mapping import HQ_NAME, DrillScript, HqStep, Step, map_timeline
from drills.results import DrillResult, RunFacts, build_result
from drills.skipping import VirtualClock
from drills.timeline import Event, Timeline
from plans import engine
from plans.hq import HqLedger
from plans.ledger import AlertLedger
from plans.lifecycle import task_workflow_id
from plans.loader import load_plan
from plans.model import Plan
from runtime.ops import (
    ensure_topics,
    events_topic,
    register_search_attributes,
    require_temporal,
)
from runtime.services import Runtime
from runtime.wiring import build_worker
from store.drills import drill_responses, drill_rows, drill_state, end_drill, open_task_ids
from workflows.starters import declare, response_workflow_id, submit
from workflows.types import OPEN_STATES

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("tidegate.drill")


@dataclass(frozen=True)
class DrillOptions:
    """How to run a drill."""

    fast: bool = True
    """Time-skipping (``--fast``); otherwise real time divided by ``speed``."""
    speed: float = 1.0
    """Storm minutes per real minute (``--speed N``); ignored by ``--fast``."""
    seed: int = 0
    plan_path: Path | None = None
    """The plan to run (default: the configured plan)."""
    profiles: Profiles | None = None
    """Simulated agencies (default: ``drills/agencies.yaml``)."""
    cooldown_minutes: int = 360
    """Storm minutes after the last entry before the drill lifts whatever is still in force."""
    tail_minutes: int = 360
    """Storm minutes after that during which agencies may still answer; then the drill stops."""
    settle_seconds: float = 30.0
    """``--fast``: how long (wall time) to wait for a warning's dispatch to reach the desk."""
    with_hq_decisions: bool = False
    """Replay the HQ's recorded decisions beside the warnings (``--with-hq-decisions``)."""

    @property
    def time_scale(self) -> float:
        """What every plan duration is divided by."""
        return 1.0 if self.fast else self.speed


@dataclass
class SentWarning:
    """One warning the drill sent, with when (service time) and what the plan expected."""

    step: Step
    sent_at: datetime
    expected_levels: dict[str, str]


@dataclass
class SentDecision:
    """One HQ decision the drill sent, with when (service time) and what the plan expected."""

    step: HqStep
    sent_at: datetime
    expected_levels: dict[str, str]


@dataclass
class DrillRun:
    """What a drill did; :mod:`drills.results` turns it and the database rows into figures."""

    script: DrillScript
    plan: Plan
    options: DrillOptions
    region: str
    workflow_id: str
    timebase: Timebase
    response_ids: list[str] = field(default_factory=list)
    """The drill's responses (one, unless the storm fell quiet and warned again)."""
    sent: list[SentWarning] = field(default_factory=list)
    hq_sent: list[SentDecision] = field(default_factory=list)
    """The HQ decisions sent (``with_hq_decisions``), closing withdrawals included."""
    stopped_at: datetime | None = None
    """Service time at which the drill stopped."""
    wall_seconds: float = 0.0
    anomalies: list[str] = field(default_factory=list)
    """Things that did not go as the plan said (e.g. a dispatch that never arrived)."""
    answers: dict[str, int] = field(default_factory=dict)
    silent_tasks: int = 0
    refused_answers: int = 0

    @property
    def run_id(self) -> str:
        """The run's id (also in every alert id)."""
        return self.script.run_id


@dataclass
class Progress:
    """What the progress display shows; the runner updates it as the drill goes."""

    storm_now: datetime | None = None
    levels: dict[str, str] = field(default_factory=dict)
    warnings_sent: int = 0
    warnings_total: int = 0
    hq_sent: int = 0
    hq_total: int = 0
    tasks: int = 0
    acknowledged: int = 0
    completed: int = 0
    silent: int = 0
    phase: str = "starting"


Observer = Callable[[Progress], None]


def new_run(
    timeline: Timeline, settings: Settings, options: DrillOptions, service_start: datetime
) -> DrillRun:
    """Map the timeline and name the drill's region and workflow."""
    plan = load_plan(options.plan_path or settings.plan_path)
    run_id = uuid.uuid4().hex[:8]
    script = map_timeline(timeline, plan, run_id)
    region = f"{settings.region}-{timeline.slug}-{run_id}"
    speed = 1.0 if options.fast else options.speed
    return DrillRun(
        script=script,
        plan=plan,
        options=options,
        region=region,
        workflow_id=response_workflow_id(region, drill=True),
        timebase=Timebase(timeline.start, service_start, speed),
    )


@asynccontextmanager
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server from the venv (never downloaded)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=require_temporal("temporal-test-server"),
        test_server_startup_timeout=timedelta(seconds=60),
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


async def run_fast(
    timeline: Timeline,
    settings: Settings,
    options: DrillOptions,
    *,
    env: WorkflowEnvironment | None = None,
    observe: Observer | None = None,
) -> DrillRun:
    """Replay ``timeline`` on the time-skipping server with the production worker wiring.

    Args:
        timeline: The storm.
        settings: Database and Kafka to use (the Temporal address is not used).
        options: Seed, plan, agencies and timing.
        env: A running time-skipping environment to use (tests share one); by default the
            drill starts its own and shuts it down afterwards.
        observe: Called with the progress after each step.
    """
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        if env is None:
            env = await stack.enter_async_context(time_skipping())
        else:
            await register_search_attributes(env.client)
        clock = VirtualClock(env)
        run = new_run(timeline, settings, options, await clock.now())
        drill_settings = settings.model_copy(update={"task_queue": f"drill-{run.run_id}"})
        rt = await stack.enter_async_context(
            Runtime(drill_settings, client=env.client, plan=run.plan, fast_sqlite=True)
        )
        await stack.enter_async_context(await build_worker(rt))
        sessions = rt.sessions
        clock.leaks.watch(run.workflow_id)
        responder = SignalResponder(await rt.answers(drill=True))
        driver = _Driver(run, drill_settings, env.client, clock, responder)
        driver.on_closing = clock.leaks.task_closing
        driver.sessions = sessions
        await driver.drive(stack, observe)
        await _finish(run, env.client, sessions, await clock.now())
    run.wall_seconds = time.monotonic() - started
    return run


async def run_speed(
    timeline: Timeline,
    settings: Settings,
    options: DrillOptions,
    *,
    observe: Observer | None = None,
) -> DrillRun:
    """Replay ``timeline`` on the configured services, ``options.speed`` times real time.

    The worker (``make run``) must be running: it executes the drill's workflows and turns the
    simulated agencies' answers on ``tidegate.drill.tasks.events.<agency>`` into signals.
    """
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        rt = await stack.enter_async_context(Runtime(settings))
        client = await rt.temporal()
        clock = RealClock()
        run = new_run(timeline, settings, options, await clock.now() + timedelta(seconds=1))
        producer = await rt.producer()
        responder = KafkaResponder(producer, settings)
        driver = _Driver(run, settings, client, clock, responder)
        await driver.drive(stack, observe)
        await _finish(run, client, rt.sessions, await clock.now())
    run.wall_seconds = time.monotonic() - started
    return run


def send_offsets(moments: list[datetime]) -> dict[datetime, timedelta]:
    """How long after its storm time each distinct instant's warnings are sent.

    Instants in turn get 2, 6, 10 ... 54 seconds (then again from 2), so a stand-down sent at
    one warning seldom reaches a task in the very instant one of its timers fires: the timers
    are a whole number of minutes after an earlier warning, that warning was sent at another
    offset, and Temporal's time-skipping test server wedges a workflow when a signal meets a
    firing timer ("invalid history builder state for action").
    """
    distinct = sorted(set(moments))
    return {moment: timedelta(seconds=2 + 4 * (i % 14)) for i, moment in enumerate(distinct)}


class _Driver:
    """Puts the storm on the agenda and runs it."""

    def __init__(
        self,
        run: DrillRun,
        settings: Settings,
        client: Client,
        clock: Clock,
        responder: Responder,
    ) -> None:
        self.run = run
        self.settings = settings
        self.client = client
        self.clock = clock
        self.responder = responder
        self.agenda = Agenda(clock, on_tick=self._tick)
        self.ledger = AlertLedger()
        self.hq: HqLedger | None = HqLedger() if run.options.with_hq_decisions else None
        """The HQ's ledger as the response keeps it, when the drill replays the HQ."""
        self.progress = Progress(
            warnings_total=len(run.script.steps),
            hq_total=len(run.script.hq_steps) if self.hq is not None else 0,
        )
        self.desk: Desk | None = None
        self.observe: Observer | None = None
        self.on_closing: Callable[[str], None] | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None

    async def drive(self, stack: AsyncExitStack, observe: Observer | None) -> None:
        run, settings = self.run, self.settings
        self.observe = observe
        agencies = [agency.id for agency in run.plan.agencies]
        task_topics = [settings.topic(f"tasks.{a}", drill=True) for a in agencies]
        answer_topics = [events_topic(settings, a, drill=True) for a in agencies]
        await ensure_topics(
            settings, {t: settings.topic_partitions for t in task_topics + answer_topics}
        )
        self.desk = await stack.enter_async_context(
            Desk(
                client=client_options(settings),
                partitions=await self._partitions(task_topics),
                response_prefix=f"{run.workflow_id}-",
                profiles=run.options.profiles or load_profiles(),
                seed=run.options.seed,
                agenda=self.agenda,
                timebase=run.timebase,
                responder=self.responder,
                on_closing=self.on_closing,
            )
        )
        timebase, options, script = run.timebase, run.options, run.script
        closing_at = script.timeline.end + timedelta(minutes=options.cooldown_minutes)
        decisions = script.hq_steps if self.hq is not None else ()
        withdrawals = script.hq_closing if self.hq is not None else ()
        moments = [s.at for s in script.steps] + [d.at for d in decisions] + [closing_at]
        offsets = send_offsets(moments)
        # Entries of one storm instant go in the timeline's order: a warning and the HQ's
        # start at the same minute arrive as the file lists them.
        timed = [(s.at, _index(s.event), self._sender(s)) for s in script.steps]
        timed += [(d.at, _index(d.event), self._hq_sender(d)) for d in decisions]
        for at, _, action in sorted(timed, key=lambda entry: entry[:2]):
            self.agenda.at(timebase.service(at + offsets[at]), action)
        # At the end the HQ's declarations go first: a hold lifted after the signals would
        # name its hazards once more and dispatch their tasks again for nothing.
        moment = timebase.service(closing_at + offsets[closing_at])
        for decision in withdrawals:
            self.agenda.at(moment, self._hq_sender(decision, closing=True))
        for step in script.closing:
            self.agenda.at(moment, self._sender(step, closing=True))
        stop = timebase.service(closing_at + timedelta(minutes=options.tail_minutes))
        self.progress.phase = "replaying"
        await self.agenda.run(until=stop)
        run.stopped_at = await self.clock.now()
        stats = self.desk.stats
        run.answers = dict(stats.answers)
        run.silent_tasks = len(stats.silent)
        run.refused_answers = stats.refused
        self._report_progress("stopping")

    async def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        producer = AIOKafkaProducer(**client_options(self.settings))
        await producer.start()
        try:
            return [
                TopicPartition(topic, number)
                for topic in topics
                for number in sorted(await producer.partitions_for(topic))
            ]
        finally:
            await producer.stop()

    def _sender(self, step: Step, *, closing: bool = False) -> Callable[[], Any]:
        async def send() -> None:
            await self._send(step, closing)

        return send

    async def _send(self, step: Step, closing: bool) -> None:
        run = self.run
        sent_at = await self.clock.now()
        alert = parse_alert(
            json.dumps(step.document(sent_at)).encode(),
            plan=run.plan,
            max_bytes=self.settings.max_alert_bytes,
            now=sent_at,  # service time: the time-skipping server's runs ahead of the system's
        )
        await submit(
            self.client,
            self.settings.task_queue,
            run.region,
            run.plan,
            alert,
            time_scale=run.options.time_scale,
        )
        expected = engine.replay(self.ledger, run.plan, alert, sent_at, self.hq)
        levels = {area: str(level) for area, level in expected.levels.items()}
        run.sent.append(SentWarning(step, sent_at, levels))
        self.progress.warnings_sent += 0 if closing else 1
        await self._after(levels, {t.id for t in expected.tasks}, closing)

    def _hq_sender(self, step: HqStep, *, closing: bool = False) -> Callable[[], Any]:
        async def send() -> None:
            await self._send_hq(step, closing)

        return send

    async def _send_hq(self, step: HqStep, closing: bool) -> None:
        """Replay one HQ decision as the HQ's channels deliver it, to the drill's response."""
        run = self.run
        assert self.hq is not None
        sent_at = await self.clock.now()
        decision = parse_decision(
            json.dumps(step.document(sent_at)).encode(),
            run.plan,
            decided_by=HQ_NAME,
            now=sent_at,  # service time, as for warnings
        )
        await declare(
            self.client,
            self.settings.task_queue,
            run.region,
            run.plan,
            decision,
            drill=True,
            time_scale=run.options.time_scale,
        )
        expected = engine.replay(self.ledger, run.plan, decision, sent_at, self.hq)
        levels = {area: str(level) for area, level in expected.levels.items()}
        run.hq_sent.append(SentDecision(step, sent_at, levels))
        self.progress.hq_sent += 0 if closing else 1
        await self._after(levels, {t.id for t in expected.tasks}, closing)

    async def _after(self, levels: dict[str, str], tasks: set[str], closing: bool) -> None:
        """After a message: show the plan's levels, and with ``--fast`` wait for them."""
        self.progress.levels = levels
        if self.run.options.fast:
            await self._settle(levels, tasks)
        self._report_progress("closing" if closing else "replaying")

    async def _settle(self, levels: dict[str, str], tasks: set[str]) -> None:
        """Wait until the response has the plan's levels and tasks and the desk has them too.

        Virtual time must not skip past an agency's answer before the agency knows its task,
        so each warning's dispatch is complete before the drill moves on. The database is
        asked rather than the workflow: a query replays nothing but costs a workflow task on
        a response holding hundreds of tasks, many times per warning.
        """
        assert self.desk is not None and self.sessions is not None
        deadline = time.monotonic() + self.run.options.settle_seconds
        while True:
            async with self.sessions() as session:
                recorded_levels, recorded = await drill_state(session, self.run.region)
            plan_ids = {task_id.split("/", 1)[1] for task_id in recorded}
            if recorded_levels == levels and tasks <= plan_ids and self.desk.seen(recorded):
                return
            if time.monotonic() > deadline:
                self.run.anomalies.append(
                    f"after {len(self.run.sent)} warning(s) the response did not reach the "
                    f"plan's levels {levels} and tasks within {self.run.options.settle_seconds:g}s"
                )
                return
            await asyncio.sleep(0.02)

    def _tick(self, moment: datetime) -> None:
        self.progress.storm_now = self.run.timebase.storm(moment)
        if self.desk is not None:
            self._report_progress(self.progress.phase)

    def _report_progress(self, phase: str) -> None:
        assert self.desk is not None
        stats = self.desk.stats
        progress = self.progress
        progress.phase = phase
        progress.tasks = len(stats.tasks)
        progress.acknowledged = stats.answers["acknowledge"]
        progress.completed = stats.answers["complete"]
        progress.silent = len(stats.silent)
        if self.observe is not None:
            self.observe(progress)


def _index(event: Event | None) -> int:
    """Where an entry stands in its timeline (closing messages come after every entry)."""
    return event.index if event is not None else 1 << 30


async def _finish(
    run: DrillRun, client: Client, sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    """Stop whatever of the drill still runs and mark its responses closed.

    Tasks nobody completed (a silent agency, a task the plan keeps after a stand-down) would
    otherwise wait forever; the report shows them as open at the end of the drill.
    """
    async with sessions() as session:
        responses = await drill_responses(session, run.region)
        still_open = {r.id: await open_task_ids(session, r.id, OPEN_STATES) for r in responses}
    if not responses:
        if run.sent:
            run.anomalies.append("the drill's response never started")
        return
    run.response_ids = [r.id for r in responses]
    handles = [
        client.get_workflow_handle(task_workflow_id(task_id))
        for ids in still_open.values()
        for task_id in ids
    ]
    handles.append(client.get_workflow_handle(run.workflow_id))
    for start in range(0, len(handles), 50):
        await asyncio.gather(*(_terminate(h) for h in handles[start : start + 50]))
    async with sessions.begin() as session:
        for response_id, ids in still_open.items():
            await end_drill(session, response_id, now, open_tasks=len(ids), run_id=run.run_id)


async def _terminate(handle: Any) -> None:
    """Terminate a workflow if it is still running."""
    try:
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("drill over")
    except RPCError:
        pass


async def result_of(run: DrillRun, settings: Settings) -> DrillResult:
    """The drill's figures, from the rows its responses wrote."""
    async with Runtime(settings) as rt, rt.sessions() as session:
        rows = [await drill_rows(session, response_id) for response_id in run.response_ids]
    facts = RunFacts(
        script=run.script,
        plan=run.plan,
        timebase=run.timebase,
        mode="fast" if run.options.fast else "speed",
        seed=run.options.seed,
        wall_seconds=run.wall_seconds,
        stopped_at=run.stopped_at or run.timebase.service_start,
        sent=tuple((sent.step, sent.sent_at) for sent in run.sent),
        anomalies=tuple(run.anomalies),
        hq_sent=tuple((sent.step, sent.sent_at) for sent in run.hq_sent),
        with_hq_decisions=run.options.with_hq_decisions,
    )
    return build_result(facts, rows)
