"""Process exit for short-lived commands that used a Temporal client."""

from __future__ import annotations

import os
import sys
from enum import IntEnum
from typing import NoReturn


class ExitCode(IntEnum):
    """Exit statuses of the ``tidegate`` commands (README, docs/alerts.md).

    ``alert issue|update|cancel|import`` exit with the response's decision on the warning;
    ``status`` and ``alert show`` with 0, or why they could not show live state. Every command
    that acts (``alert``, ``plan apply``, ``drill run|schedule``, ``agency ack|...``) exits
    :attr:`FORBIDDEN` when its token does not allow it.
    """

    OK = 0
    """Done; for a warning: applied (or, for a test message, logged and ignored)."""
    REJECTED = 1
    """Refused: invalid at intake, or rejected (or orphaned) by the response; nothing changes."""
    USAGE = 2
    """Bad arguments or configuration."""
    DUPLICATE = 3
    """Already received (same id, or the same content as a warning in force): nothing to do."""
    STALE = 4
    """Older than what the warning already shows, or about a cancelled warning: not applied."""
    HELD = 5
    """Waits for the warning it references; applied when that arrives (``alert show``)."""
    PENDING = 6
    """Queued (durable), but not decided within the wait: the worker is busy or stopped."""
    UNREACHABLE = 7
    """Temporal or the database cannot be reached: nothing was sent, or nothing shown."""
    NOT_ANSWERING = 8
    """``status``: a live response's workflow did not answer (is the worker running?)."""
    FORBIDDEN = 9
    """Not allowed: no token, an unknown, expired or revoked one, or one whose role (or agency,
    district, scopes) does not permit this (``docs/access.md``); nothing was done."""


def exit_now(code: int | str | None) -> NoReturn:
    """Exit without interpreter teardown.

    The Temporal client's native threads can outlive the event loop and abort the process
    while Python finalizes ("PyGILState_Release ... must be current", temporalio/sdk-python
    #300). Every resource is closed by the time a command returns, so skipping the teardown
    loses nothing and keeps the exit status honest.
    """
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def unreachable_database(exc: BaseException) -> bool:
    """Whether ``exc`` is the database (or the network to it) failing, not a bug of ours."""
    drivers = ("sqlalchemy", "asyncpg", "aiosqlite")
    return isinstance(exc, OSError | TimeoutError) or exc.__class__.__module__.startswith(drivers)


def database_problem(exc: BaseException) -> str:
    """Why the database could not be read, in one line, without the URL (it holds a password)."""
    kind = "timed out" if isinstance(exc, TimeoutError) else exc.__class__.__name__
    return f"the database cannot be reached ({kind}); check TIDEGATE_DATABASE_URL"
