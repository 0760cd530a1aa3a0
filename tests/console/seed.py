"""Rows a live response writes, written directly: for the console's page tests and its bench.

The rows are those the workflows' activities write (``store.records``), for a rainstorm
warning over ``areas`` with every task the plan dispatches, so the pages read real shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from plans.lifecycle import deadline, task_key
from plans.model import ActiveWarning, Hazard, Level, Plan
from plans.rules import respond
from store import records

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@dataclass(frozen=True)
class Seeded:
    """What was written."""

    response_id: str
    task_ids: list[str]
    warning_id: str


async def seed_response(
    sessions: async_sessionmaker[AsyncSession],
    plan: Plan,
    *,
    region: str = "shanghai",
    level: Level = Level.YELLOW,
    areas: tuple[str, ...] = ("citywide",),
    copies: int = 1,
    hazards: tuple[Hazard, ...] = (Hazard.RAINSTORM,),
    now: datetime | None = None,
) -> Seeded:
    """A live response with one applied warning, its levels and its tasks (``copies`` times
    each plan task, as re-dispatches), the first task escalated twice, the second overdue,
    one held and one stale message, and one refused payload."""
    at = now or datetime.now(UTC)
    response_id = f"response-{region}-seed{at.strftime('%H%M%S%f')}"
    response = respond([ActiveWarning(hazard, level, areas) for hazard in hazards], plan)
    async with sessions.begin() as session:
        await records.save_response(session, response_id, region, False, plan, at)
        await _warning(session, response_id, "seed-1", "apply", "", at, areas, level)
        await _warning(
            session, response_id, "seed-9", "held", "waiting for seed-8", at, areas, level
        )
        await _warning(
            session, response_id, "seed-0", "stale", "older than seed-1", at, areas, level
        )
        await records.save_levels(
            session,
            response_id,
            {a: str(v) for a, v in response.levels.items()},
            "active",
            f"{response_id}:levels:1",
            at,
            {},
        )
        rows: list[dict[str, Any]] = []
        for copy in range(1, copies + 1):
            for task in response.tasks:
                issued = at - timedelta(minutes=5)
                rows.append(
                    {
                        "id": task_key(response_id, task.id, copy),
                        "response_id": response_id,
                        "plan_task_id": task.id,
                        "action_id": task.action_id,
                        "agency": task.agency,
                        "area": task.area,
                        "asset": task.asset,
                        "hazard": str(task.hazard),
                        "response_level": str(task.response_level),
                        "state": "dispatched",
                        "drill": False,
                        "plan_version": plan.version,
                        "issued_at": issued,
                        "deadline_at": deadline(issued, task.deadline_minutes),
                        "updated_at": issued,
                        "dispatch": copy,
                        "tracking": None,
                    }
                )
        await records.save_tasks(session, rows)
        ids = [str(row["id"]) for row in rows]
        first, second = ids[0], ids[1]
        for step, (kind, to) in enumerate((("reminder", "agency"), ("supervision", "district_hq"))):
            await records.save_escalation(
                session, task_id=first, response_id=response_id, step=step, kind=kind, to=to, at=at
            )
            await records.save_transition(
                session, first, step + 1, "escalated", f"escalation_{kind}", at, {"to": to}
            )
        await records.save_transition(
            session, second, 1, "overdue", "deadline_missed", at - timedelta(minutes=1), {}
        )
        await records.save_rejection(
            session, "http", "areas: unknown area '火星'", b'{"id": "mars-1"}', at
        )
    return Seeded(response_id, ids, "seed-1")


async def _warning(
    session: AsyncSession,
    response_id: str,
    warning_id: str,
    decision: str,
    reason: str,
    at: datetime,
    areas: tuple[str, ...],
    level: Level,
) -> None:
    await records.save_warning(
        session,
        response_id=response_id,
        warning_id=warning_id,
        kind="alert",
        hazard="rainstorm",
        level=str(level),
        areas=areas,
        status="actual",
        decision=decision,
        sent=at,
        headline="",
        at=at,
        reason=reason,
        warning="seed-1" if decision == "apply" else "",
    )
