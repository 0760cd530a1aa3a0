"""The drill's clocks and its one driver loop.

Three times meet in a drill:

* **storm time**: when things happened in the historical storm (the timeline's ``at``);
* **service time**: what ``workflow.now()`` says, i.e. what the database records. With
  ``--speed N`` it is real time (:class:`RealClock`), and N minutes of storm time pass in one
  real minute; with ``--fast`` it is the time-skipping test server's virtual clock
  (:class:`drills.skipping.VirtualClock`), which moves one storm minute per minute but skips
  ahead whenever nothing is running;
* **wall time**: how long the drill takes.

:class:`Timebase` converts between storm and service time. :class:`Agenda` is the driver loop:
timed actions (send a warning, an agency answers, lift what is still in force, stop) are run in
service-time order over an abstract :class:`Clock`; actions may add further actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

Action = Callable[[], Awaitable[None]]


class Clock(Protocol):
    """Service time, and a way to wait for it."""

    async def now(self) -> datetime:
        """The current service time (timezone-aware)."""
        ...

    async def sleep_until(self, moment: datetime, wake: asyncio.Event | None = None) -> None:
        """Return once service time has reached ``moment``, or sooner if ``wake`` is set and
        the clock can be woken."""
        ...


class RealClock:
    """Real time: ``--speed`` drills run against the live services."""

    async def now(self) -> datetime:
        """The system clock."""
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime, wake: asyncio.Event | None = None) -> None:
        """Sleep for real; an earlier action added meanwhile (``wake``) ends the sleep."""
        delay = (moment - datetime.now(UTC)).total_seconds()
        if delay <= 0:
            return
        if wake is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=delay)


@dataclass(frozen=True)
class Timebase:
    """Maps storm time to service time: ``service = start + (storm - storm_start) / speed``."""

    storm_start: datetime
    service_start: datetime
    speed: float = 1.0
    """Storm minutes per service minute (``--speed N``; 1 for ``--fast``)."""

    def service(self, storm: datetime) -> datetime:
        """The service time at which ``storm`` time is replayed."""
        return self.service_start + (storm - self.storm_start) / self.speed

    def storm(self, service: datetime) -> datetime:
        """The storm time a service time stands for (in the storm's own offset)."""
        moment = self.storm_start + (service - self.service_start) * self.speed
        return moment.astimezone(self.storm_start.tzinfo)

    def duration(self, storm_minutes: float) -> timedelta:
        """A storm-time duration in service time."""
        return timedelta(minutes=storm_minutes) / self.speed


@dataclass
class Agenda:
    """Timed actions in service-time order, run by one loop over a clock."""

    clock: Clock
    on_tick: Callable[[datetime], None] | None = None
    """Called with each action's time before it runs (progress display)."""
    _heap: list[tuple[datetime, int, Action]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def at(self, moment: datetime, action: Action) -> None:
        """Run ``action`` once service time reaches ``moment`` (ties run in the order added)."""
        heapq.heappush(self._heap, (moment, next(self._seq), action))
        self._wake.set()

    def __len__(self) -> int:
        return len(self._heap)

    async def run(self, until: datetime | None = None) -> None:
        """Run actions until none is left (or the next is after ``until``)."""
        while self._heap and (until is None or self._heap[0][0] <= until):
            moment = self._heap[0][0]
            self._wake.clear()
            await self.clock.sleep_until(moment, self._wake)
            if self._wake.is_set():
                continue  # an action was added meanwhile: look at the head again
            _, _, action = heapq.heappop(self._heap)
            if self.on_tick is not None:
                self.on_tick(moment)
            await action()
        if until is not None:
            await self.clock.sleep_until(until)
