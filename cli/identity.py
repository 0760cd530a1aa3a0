"""Who is at the terminal, for the audit trail.

Commands that change accounts and tokens (``tidegate users``, ``tidegate tokens``) are the
server operator's: whoever can run them holds the database's credentials anyway. They are
recorded as ``local:<os user>`` with the role ``operator``; commands that act for an agency
take an account's token instead (``tidegate agency ... --token``).
"""

from __future__ import annotations

import getpass
import socket

from access.audit import OPERATOR, Actor


def os_user() -> str:
    """The login name of the process's user (``unknown`` if the system cannot say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cli_source() -> str:
    """``cli <user>@<host>``: where a CLI action came from."""
    return f"cli {os_user()}@{socket.gethostname()}"


def operator() -> Actor:
    """The operator at this terminal."""
    return Actor(f"local:{os_user()}", OPERATOR)
