"""Live updates: one change feed per server, pushed to every open page as server-sent events.

:class:`ChangeFeed` looks at :func:`console.situation.change_mark` (three primary-key look-ups)
every :data:`POLL_SECONDS` while at least one page listens, and wakes every listener when it
moved, whoever wrote the change (the worker, another ``serve``, the CLI). Drills running in
this process bump it directly. A page's ``EventSource`` gets ``event: change`` and fetches its
live fragments again; after a server restart the browser reconnects by itself (``retry``) and
the first event it gets makes it refresh, so nothing missed while it was away stays missed.

The poll interval bounds the delay from a change to the page: at most ``POLL_SECONDS`` plus
one fragment fetch (``bench/console.py`` measures it end to end).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from console.situation import change_mark

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("tidegate.console")

POLL_SECONDS = 0.4
HEARTBEAT_SECONDS = 15.0
"""A comment line this often keeps proxies from closing a quiet stream."""
RETRY_MS = 1000
"""How soon a browser reconnects after the stream broke (a server restart)."""


class ChangeFeed:
    """Wakes listeners when the database (or a drill in this process) changed."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        stopping: asyncio.Event,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._stopping = stopping
        self._poll = poll_seconds
        self._version = 0
        self._changed = asyncio.Condition()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None
        self._mark: tuple[int, ...] | None = None

    @property
    def version(self) -> int:
        """Goes up by one at every change seen."""
        return self._version

    async def bump(self) -> None:
        """Something changed that the database poll would not see (a drill's progress)."""
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def _run(self) -> None:
        while not self._stopping.is_set() and self._listeners > 0:
            try:
                async with self._sessions() as session:
                    mark = await change_mark(session)
            except Exception as exc:  # the database is down: keep pages as they are, retry
                log.debug("change feed: %s", exc)
            else:
                if mark != self._mark:
                    first = self._mark is None
                    self._mark = mark
                    if not first:
                        await self.bump()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll)
        self._task = None
        await self.wake_on_stop()

    async def changes(self) -> AsyncIterator[int]:
        """Each new version while the listener stays (and the server is not stopping)."""
        self._listeners += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="console-change-feed")
        seen = self._version
        try:
            while not self._stopping.is_set():
                moved = self._moved(seen)
                async with self._changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait_for(moved), HEARTBEAT_SECONDS)
                if self._stopping.is_set():
                    return
                if self._version != seen:
                    seen = self._version
                    yield seen
                else:
                    yield -1  # heartbeat
        finally:
            self._listeners -= 1

    def _moved(self, seen: int) -> Callable[[], bool]:
        return lambda: self._version != seen or self._stopping.is_set()

    async def wake_on_stop(self) -> None:
        """Let every listener see that the server is stopping."""
        async with self._changed:
            self._changed.notify_all()


async def event_stream(feed: ChangeFeed) -> AsyncIterator[str]:
    """The ``text/event-stream`` body of ``GET /events``."""
    yield f"retry: {RETRY_MS}\n\n"
    yield f"event: hello\ndata: {feed.version}\n\n"
    async for version in feed.changes():
        yield ": ping\n\n" if version < 0 else f"event: change\ndata: {version}\n\n"
