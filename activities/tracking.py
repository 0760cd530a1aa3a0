"""Temporal activity: start the workflows that track a dispatch's tasks.

Started from an activity, not as child workflows: the response then records one activity instead
of a start command and a started event per task (463 children took ~38 s to exist in a citywide
storm, while agencies were already answering), and the starts run concurrently. The task rows
hold each workflow's input, so this activity needs only the ids, and an agency's early answer can
start the same workflow from the same row (``workflows.tracking``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio import activity

from store import records
from workflows import tracking
from workflows.types import Tracking

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

CONCURRENT_STARTS = 64
"""Start requests in flight at once: enough to hide the round trip, few enough for one server."""
ROWS_PER_QUERY = 500
"""Task ids per ``IN`` clause (SQLite allows a few thousand bound values per statement)."""


@dataclass(frozen=True)
class StartTrackingInput:
    """The tasks of one dispatch, by id; their rows hold the tracking inputs."""

    task_ids: tuple[str, ...]


class TrackingActivities:
    """Activities over the Temporal client and the database (built once in ``worker.py``)."""

    def __init__(self, client: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._client = client
        self._sessions = sessions

    @activity.defn
    async def start_tracking(self, inp: StartTrackingInput) -> int:
        """Start each task's workflow unless already started; returns how many this started."""
        texts: list[str] = []
        async with self._sessions() as session:
            for first in range(0, len(inp.task_ids), ROWS_PER_QUERY):
                chunk = inp.task_ids[first : first + ROWS_PER_QUERY]
                texts += await records.tracking_of(session, chunk)
        gate = asyncio.Semaphore(CONCURRENT_STARTS)

        async def one(text: str) -> bool:
            async with gate:
                return await tracking.start(self._client, Tracking.decode(text))

        started = await asyncio.gather(*(one(text) for text in texts))
        return sum(started)
