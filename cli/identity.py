"""Who is at the terminal, for the access check and the audit trail.

Commands that act on responses and tasks (``tidegate alert issue|update|cancel|import``, ``plan
apply``, ``drill run|schedule``, ``agency ack|...``) take an account's API token (``--token``,
or ``TIDEGATE_TOKEN``): :func:`acting` says whose it is and asks the permission matrix, as the
HTTP API does (:mod:`access.terminal`), so the audit trail names the account and a refusal is
the same refusal on every channel. Such a command exits :attr:`cli.exit.ExitCode.FORBIDDEN`
when the token does not allow it.

Commands that change accounts and tokens (``tidegate users``, ``tidegate tokens``) are the
server operator's: whoever can run them holds the database's credentials anyway. They are
recorded as ``local:<os user>`` with the role ``operator``.
"""

from __future__ import annotations

import getpass
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from access.audit import OPERATOR, Actor, authorize_audited
from access.matrix import Forbidden, Permission, Principal
from access.terminal import Unauthenticated, local_services, token_holder

if TYPE_CHECKING:
    from runtime.services import Runtime

_TOKEN_HELP = (
    "Your API token (an admin creates it: tidegate tokens create NAME). On a development "
    "machine, dev-duty-officer-token acts as the duty officer."
)
TOKEN = typer.Option("", "--token", envvar="TIDEGATE_TOKEN", help=_TOKEN_HELP, show_default=False)
"""``--token`` for commands declared with defaults (``token: str = TOKEN``)."""
Token = Annotated[
    str, typer.Option("--token", envvar="TIDEGATE_TOKEN", help=_TOKEN_HELP, show_default=False)
]
"""``--token`` for commands declared with ``Annotated`` (``token: Token = ""``)."""
NOT_ALLOWED = (Unauthenticated, Forbidden)
"""What :func:`acting` raises when the token does not allow the command (both have
``reason``)."""


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


async def acting(
    rt: Runtime, token: str, command: str, permission: Permission | None = None
) -> Principal:
    """Who runs ``tidegate <command>`` with ``token``, holding ``permission`` if given.

    The permission is checked for the role (and the token's scopes) here; a check that needs
    the resource (a warning's districts, a task's agency) is the command's, with
    :func:`access.audit.authorize_audited`.

    Raises:
        Unauthenticated: no token, or not a valid one here (audited unless missing).
        Forbidden: the role may not (audited).
    """
    settings = rt.settings
    target = f"tidegate {command}"
    who = await token_holder(
        rt.sessions,
        token,
        dev_token=settings.api_token.strip() or None,
        local=local_services(settings.temporal_address, settings.db_url),
        source=cli_source(),
        target=target,
    )
    if permission is not None:
        await authorize_audited(rt.sessions, who, permission, target=target, source=cli_source())
    return who
