"""Routing: hand a validated alert to its response workflow, exactly once and durably.

Signal-with-start is used rather than update-with-start because it is durable the moment the
call returns, even while no worker is running: an alert accepted here is never lost. The
workflow id is deterministic (region plus live/drill), so every channel reaches the same
workflow, and the workflow's ledger drops duplicates by id and by content.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from plans.hq import HqDecision
from plans.model import Plan
from plans.warning import Alert, Route
from workflows.response import ResponseWorkflow
from workflows.search import DRILL, REGION
from workflows.types import ResponseInput


@dataclass(frozen=True)
class Routed:
    """Where an alert went."""

    route: Route
    workflow_id: str | None
    """``None`` for test-status alerts, which are logged and ignored."""


def response_workflow_id(region: str, drill: bool) -> str:
    """The one workflow that owns a region's live (or drill) response."""
    return f"{'drill' if drill else 'response'}-{region}"


async def submit(
    client: Client,
    task_queue: str,
    region: str,
    plan: Plan,
    alert: Alert,
    *,
    time_scale: float = 1.0,
) -> Routed:
    """Deliver ``alert`` to its response workflow, starting the workflow if none is running.

    ``time_scale`` only matters when this starts the workflow: a drill replaying a storm N
    times faster than real time divides every plan timer by N.
    """
    if alert.route is Route.IGNORED:
        return Routed(alert.route, None)
    drill = alert.route is Route.DRILL
    start = _Start(client, task_queue, region, plan, drill, time_scale)
    return Routed(alert.route, await start.signal("receive_alert", alert))


async def declare(
    client: Client,
    task_queue: str,
    region: str,
    plan: Plan,
    decision: HqDecision,
    *,
    drill: bool = False,
    time_scale: float = 1.0,
) -> str:
    """Deliver an HQ decision to the region's response, starting it if none is running.

    Durable once it returns, like :func:`submit`; returns the workflow id. A drill replaying
    the HQ's recorded decisions sends them to its drill response.
    """
    start = _Start(client, task_queue, region, plan, drill, time_scale)
    return await start.signal("receive_hq", decision)


@dataclass(frozen=True)
class _Start:
    """Signal-with-start of a region's response: what every kind of input needs."""

    client: Client
    task_queue: str
    region: str
    plan: Plan
    drill: bool
    time_scale: float

    async def signal(self, name: str, arg: object) -> str:
        """Send ``arg`` as signal ``name``, starting the response if none runs; its id."""
        workflow_id = response_workflow_id(self.region, self.drill)
        await self.client.start_workflow(
            ResponseWorkflow.run,
            ResponseInput(
                region=self.region, plan=self.plan, drill=self.drill, time_scale=self.time_scale
            ),
            id=workflow_id,
            task_queue=self.task_queue,
            start_signal=name,
            start_signal_args=[arg],
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(REGION, self.region), SearchAttributePair(DRILL, self.drill)]
            ),
        )
        return workflow_id
