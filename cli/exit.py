"""Process exit for short-lived commands that used a Temporal client."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


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
