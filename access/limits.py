"""Request rate limits: a sliding window per key (client address, account, principal).

In memory, per process: ``tidegate serve`` is one process, and a limit that forgets on restart
still bounds what one client can do per minute. Lock-out after failed logins is kept in the
database instead (:mod:`access.accounts`), so a restart does not lift it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 10_000
"""Keys remembered at most; the oldest are forgotten first (a flood of addresses cannot grow
memory without bound)."""


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Count one event; ``None`` if allowed, else the seconds until one will be."""
        now = self._clock()
        events = self._events.pop(key, None) or deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        self._events[key] = events  # re-inserted: the dict's order is least recently used first
        if len(events) >= self.limit:
            return max(events[0] + self.window - now, 0.001)
        events.append(now)
        while len(self._events) > MAX_KEYS:
            del self._events[next(iter(self._events))]
        return None
