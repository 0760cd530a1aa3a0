"""How tidegate's workflows call activities: one timeout and one retry policy for all of them.

Every activity is idempotent on keys from workflow input, so retrying is always safe, and every
one takes well under a second. The attempt timeout is what notices a worker that died
mid-attempt (SIGKILL, OOM, a lost host): at 60 s a crash during dispatch held every task of that
dispatch back a minute (tests/e2e/test_reliability.py), so it is 10 s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

ACTIVITY_TIMEOUT = timedelta(seconds=10)
"""Per attempt."""
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


async def call(method: Callable[[Any, ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    """Run an activity method with tidegate's timeout and retry policy."""
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY
    )
