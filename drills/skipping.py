"""Virtual time on Temporal's time-skipping test server, and the one bug ``--fast`` works around.

``env.sleep(d)`` unlocks time skipping until the server's clock has moved on by ``d``; the server
skips to each timer in turn whenever no workflow task or activity is running. Time skipping is
a lock counter, and the server (temporal-test-server 1.40) leaks one lock each time a child
workflow *completes* after the parent run that started it has closed: the completion cannot be
reported to the closed run, and the lock taken for reporting it is never released. From then on
virtual time only moves as fast as the wall clock.

tidegate hits this in every large drill: a response continues as new when its history grows
(thousands of task reports) while its task workflows, started by the earlier run with
``ParentClosePolicy.ABANDON``, complete later. A real Temporal server just drops such reports.

:class:`LeakCompensator` finds each leak and gives the lock back (one ``unlock_time_skipping``
per leak), exactly: a completed task workflow leaked a lock if and only if its parent run is
closed and that run's history does not record the child's completion. (Terminated children do
not leak; the drill only terminates at the very end.) :class:`VirtualClock` runs the check
before each sleep (cheaply: only tasks of runs it already knows are closed) and, while a sleep
is slow, also looks for newly closed runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import SleepRequest, UnlockTimeSkippingRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from plans.lifecycle import task_workflow_id

FIRST_POLL_SECONDS = 0.05
"""When a sleep that has not returned yet first looks for leaked locks."""
POLL_SECONDS = 0.25
"""How often a slow sleep looks again."""
SLEEP_RPC_TIMEOUT = timedelta(minutes=10)
"""A sleep may legitimately wait for a lot of work; the SDK's default RPC timeout is 30 s."""
STALL_SECONDS = 90.0
"""A sleep that takes longer (wall time) means the server stopped advancing: give up."""


class StalledError(RuntimeError):
    """Virtual time stopped moving and no leaked lock explains it."""


class LeakCompensator:
    """Counts the test server's leaked time-skipping locks for one response and returns them."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._workflow_id: str | None = None
        self._current_run: str | None = None
        self._closed_runs: set[str] = set()
        self._parent_run: dict[str, str] = {}
        """Task workflow id -> the (closed) response run that started it."""
        self._reported: set[str] = set()
        """Task workflows whose completion their (closed) parent run recorded: no leak."""
        self._candidates: set[str] = set()
        """Task workflows that may have completed and not been accounted for yet."""
        self.compensated = 0

    def watch(self, workflow_id: str) -> None:
        """Account for the response workflow ``workflow_id`` and its task workflows."""
        self._workflow_id = workflow_id

    def task_closing(self, task_id: str) -> None:
        """A task was completed, declined or stood down: its workflow is about to complete."""
        self._candidates.add(task_workflow_id(task_id))

    async def check(self, *, follow_runs: bool = True) -> int:
        """Give back the locks leaked since the last check; returns how many.

        Args:
            follow_runs: Also look for runs of the response that closed since the last check
                (one RPC). Without it, only tasks of runs already known to be closed are
                checked, which costs nothing when there are none.
        """
        if self._workflow_id is None:
            return 0
        if follow_runs:
            await self._follow_runs()
        if not self._closed_runs or not self._candidates:
            return 0
        found = 0
        for child in sorted(self._candidates):
            run = self._parent_run.get(child)
            if run is None:
                continue  # started by the open run: its completion is reported normally
            if child in self._reported:
                self._candidates.discard(child)
                continue
            status = await _status(self._client, child)
            if status is WorkflowExecutionStatus.RUNNING:
                continue
            self._candidates.discard(child)
            if status is WorkflowExecutionStatus.COMPLETED:
                await self._client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
                found += 1
        self.compensated += found
        return found

    async def _follow_runs(self) -> None:
        """Notice runs of the response that closed (continue-as-new) and read their children."""
        assert self._workflow_id is not None
        try:
            description = await self._client.get_workflow_handle(self._workflow_id).describe()
        except RPCError:
            return  # not started yet
        latest = description.run_id
        closed = description.status is not WorkflowExecutionStatus.RUNNING
        if latest == self._current_run and not closed:
            return
        self._current_run = latest
        run: str | None = latest if closed else await self._previous(latest)
        while run and run not in self._closed_runs:
            self._closed_runs.add(run)
            run = await self._read_run(run)

    async def _previous(self, run_id: str) -> str | None:
        """The run that continued as new into ``run_id``, if any."""
        assert self._workflow_id is not None
        handle = self._client.get_workflow_handle(self._workflow_id, run_id=run_id)
        async for event in handle.fetch_history_events(page_size=1):
            attributes = event.workflow_execution_started_event_attributes
            return attributes.continued_execution_run_id or None
        return None

    async def _read_run(self, run_id: str) -> str | None:
        """Record which children a closed run started and which completions it recorded."""
        assert self._workflow_id is not None
        handle = self._client.get_workflow_handle(self._workflow_id, run_id=run_id)
        previous: str | None = None
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                started = event.workflow_execution_started_event_attributes
                previous = started.continued_execution_run_id or None
            elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                child = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
                self._parent_run[child] = run_id
            elif event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
                completed = event.child_workflow_execution_completed_event_attributes
                self._reported.add(completed.workflow_execution.workflow_id)
        return previous

    async def wedged(self) -> list[str]:
        """Task workflows whose last event is a started workflow task (a stuck completion)."""
        found = []
        for child in sorted(self._seen_children()):
            try:
                events = [
                    e async for e in self._client.get_workflow_handle(child).fetch_history_events()
                ]
            except RPCError:
                continue
            if events and events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                found.append(child)
        return found

    def _seen_children(self) -> set[str]:
        return set(self._parent_run) | self._candidates


async def _status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None


class VirtualClock:
    """The time-skipping test server's clock: ``--fast`` drills."""

    def __init__(self, env: WorkflowEnvironment, leaks: LeakCompensator | None = None) -> None:
        self._env = env
        self.leaks = leaks or LeakCompensator(env.client)

    async def now(self) -> datetime:
        """The server's virtual time."""
        return await self._env.get_current_time()

    async def sleep_until(self, moment: datetime, wake: asyncio.Event | None = None) -> None:
        """Skip virtual time forward to ``moment``, giving back leaked locks on the way.

        It cannot be woken early: the drill settles each warning's dispatch before skipping on,
        so nothing earlier than ``moment`` can appear meanwhile.
        """
        await self.leaks.check(follow_runs=False)
        delay = moment - await self._env.get_current_time()
        if delay <= timedelta(0):
            return
        request = SleepRequest()
        request.duration.FromTimedelta(delay)
        sleep = asyncio.ensure_future(
            self._env.client.test_service.unlock_time_skipping_with_sleep(
                request, timeout=SLEEP_RPC_TIMEOUT
            )
        )
        started = time.monotonic()
        try:
            poll = FIRST_POLL_SECONDS
            while not sleep.done():
                await asyncio.wait({sleep}, timeout=poll)
                if not sleep.done():
                    await self.leaks.check()
                    if time.monotonic() - started > STALL_SECONDS:
                        raise StalledError(await self._diagnose(moment))
                poll = POLL_SECONDS
            sleep.result()
        finally:
            if not sleep.done():
                sleep.cancel()
                with contextlib.suppress(asyncio.CancelledError, RPCError):
                    await sleep

    async def _diagnose(self, moment: datetime) -> str:
        """Why a sleep stalled, as far as the server's histories tell."""
        wedged = await self.leaks.wedged()
        where = f"; workflow tasks never completed in {', '.join(wedged[:5])}" if wedged else ""
        return (
            f"the time-skipping test server stopped advancing before {moment.isoformat()} "
            f"({STALL_SECONDS:g}s without progress){where}"
        )
