"""``tidegate users`` and ``tidegate tokens``: accounts and their API tokens (the operator's).

``users add NAME --role ROLE [--agency A | --district D]`` creates an account; a person gets a
random password, printed once (``--password-stdin`` reads one instead); a service account
(``agency_system``, ``feed``) gets none and uses tokens. Agencies and districts must be the
plan's. ``users list``, ``users disable NAME`` (its tokens and sessions stop at once),
``users password NAME`` (a new password; unlocks the account), ``users bootstrap`` (the first
admin, once: ``make run`` calls it).

``tokens create NAME`` prints a new token once (only its hash is kept), ``tokens list [NAME]``,
``tokens revoke ID``. Every change is in the audit trail as the operator ``local:<os user>``.

Exit status: 0 done, 1 refused (see the message), 2 bad arguments, 7 the database cannot be
reached.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from access import accounts
from access.credentials import random_password
from access.matrix import SERVICE_ROLES, Permission, Role
from cli.exit import ExitCode, database_problem, unreachable_database
from cli.identity import cli_source, operator
from cli.output import console, table
from config.errors import ConfigError
from config.settings import load_settings
from runtime.services import Runtime, run_with
from store.models import ApiTokenRecord

users = typer.Typer(help="Accounts: people and service accounts, with roles.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens: created, listed, revoked.", no_args_is_help=True)

T = TypeVar("T")
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")


def _fail(message: str, code: ExitCode = ExitCode.REJECTED) -> NoReturn:
    typer.echo(f"tidegate: {message}", err=True)
    raise typer.Exit(code)


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    try:
        return run_with(load_settings(), work)
    except accounts.AccessError as exc:
        _fail(str(exc))
    except ConfigError:
        raise
    except Exception as exc:  # the driver's own errors: no traceback, and no URL
        if unreachable_database(exc):
            _fail(database_problem(exc), ExitCode.UNREACHABLE)
        raise


def catalogue_of(rt: Runtime) -> accounts.Catalogue:
    """The agencies and districts of the plan, which accounts may be bound to."""
    plan = rt.plan
    return accounts.Catalogue(
        frozenset(a.id for a in plan.agencies), frozenset(d.id for d in plan.districts)
    )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}; one of {', '.join(r.value for r in Role)}", param_hint="--role"
        ) from None


@users.command("add")
def add(
    name: str,
    role: str = typer.Option(..., "--role", help="admin, hq_commander, duty_officer, ..."),
    agency: str = typer.Option("", "--agency", help="The agency (agency_desk, agency_system)."),
    district: str = typer.Option("", "--district", help="The district (district_officer)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Create an account; a person's random password is printed once."""
    chosen = _role(role)
    password: str | None = None
    if chosen not in SERVICE_ROLES:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else random_password()

    async def go(rt: Runtime) -> None:
        await accounts.add_account(
            rt.sessions, name, chosen, catalogue=catalogue_of(rt), actor=operator(),
            source=cli_source(), agency=agency or None, district=district or None,
            password=password,
        )  # fmt: skip

    _run(go)
    typer.echo(
        f"added {name} ({chosen.value}{':' + (agency or district) if agency or district else ''})"
    )
    if chosen in SERVICE_ROLES:
        typer.echo(f"a service account: create its token with `tidegate tokens create {name}`")
    elif not password_stdin:
        typer.echo(f"password (shown once): {password}")


@users.command("list")
def list_users(as_json: bool = JSON) -> None:
    """Every account with its role, binding and state."""
    found = _run(lambda rt: accounts.list_accounts(rt.sessions))
    rows = [
        {
            "name": a.name,
            "role": a.role,
            "agency": a.agency,
            "district": a.district,
            "state": "disabled" if a.disabled else "active",
            "locked_until": a.locked_until.isoformat() if a.locked_until else None,
            "oidc": a.oidc_subject is not None,
        }
        for a in found
    ]
    if as_json:
        sys.stdout.write(json.dumps({"users": rows}, ensure_ascii=False) + "\n")
        return
    shown = table("name", "role", "agency/district", "state")
    for a in found:
        state = "disabled" if a.disabled else "active"
        if a.locked_until is not None and a.locked_until > datetime.now(UTC):
            state += f", locked until {a.locked_until:%Y-%m-%d %H:%M:%S} UTC"
        shown.add_row(a.name, a.role, a.agency or a.district or "", state)
    console().print(shown)


@users.command("disable")
def disable(name: str) -> None:
    """Disable an account: its tokens and sessions stop working at once."""
    _run(
        lambda rt: accounts.disable_account(
            rt.sessions, name, actor=operator(), source=cli_source()
        )
    )
    typer.echo(f"disabled {name}")


@users.command("password")
def password(
    name: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Set a new password (random, printed once) and unlock the account."""
    new = sys.stdin.readline().rstrip("\n") if password_stdin else random_password()
    _run(
        lambda rt: accounts.set_password(
            rt.sessions, name, new, actor=operator(), source=cli_source()
        )
    )
    typer.echo(f"password of {name} set" + ("" if password_stdin else f" (shown once): {new}"))


BOOTSTRAP_NAME = "admin"


@users.command("bootstrap")
def bootstrap(
    url: str = typer.Option("http://127.0.0.1:8080", help="Where the console is served."),
    dev_accounts: Path | None = typer.Option(
        None,
        "--dev-accounts",
        help="Development stacks only: also create a duty officer 'duty' and a desk "
        "'desk-<agency>' per agency, sharing one password kept in this file (0600).",
    ),
) -> None:
    """Create the first admin if there is no admin yet (idempotent); print how to log in."""
    dev_secret = _dev_password(dev_accounts) if dev_accounts is not None else None

    async def go(rt: Runtime) -> tuple[str | None, list[str]]:
        existing = await accounts.list_accounts(rt.sessions)
        secret = None
        if not any(a.role == Role.ADMIN.value for a in existing):
            secret = random_password()
            await accounts.add_account(
                rt.sessions, BOOTSTRAP_NAME, Role.ADMIN, catalogue=catalogue_of(rt),
                actor=operator(), source=cli_source(), password=secret,
            )  # fmt: skip
        made: list[str] = []
        if dev_secret is not None:
            made = await _dev_accounts(rt, {a.name for a in existing}, dev_secret)
        return secret, made

    secret, made = _run(go)
    if secret is None:
        typer.echo("an admin account exists already (tidegate users list)", err=True)
    else:
        typer.echo(
            f"first admin created: name {BOOTSTRAP_NAME!r}, password (shown once): {secret}\n"
            f"  sign in at {url}/login, or add people: "
            "tidegate users add NAME --role duty_officer\n"
            "  lost it? tidegate users password admin",
            err=True,
        )
    if dev_accounts is not None:
        typer.echo(
            f"development accounts{' created' if made else ''}: 'duty' (duty officer) and "
            f"'desk-<agency>' (agency desks, e.g. desk-drainage); their password is in "
            f"{dev_accounts}",
            err=True,
        )


def _dev_password(path: Path) -> str:
    """The development accounts' password: generated once, kept in ``path`` (0600)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    secret = random_password()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret + "\n", encoding="utf-8")
    return secret


async def _dev_accounts(rt: Runtime, existing: set[str], secret: str) -> list[str]:
    """A duty officer and one desk per agency with one password, for a development stack."""
    wanted = [("duty", Role.DUTY_OFFICER, None)] + [
        (f"desk-{a.id}", Role.AGENCY_DESK, a.id) for a in rt.plan.agencies
    ]
    made = []
    for name, role, agency in wanted:
        if name in existing:
            continue
        await accounts.add_account(
            rt.sessions, name, role, catalogue=catalogue_of(rt), actor=operator(),
            source=cli_source(), agency=agency, password=secret,
        )  # fmt: skip
        made.append(name)
    return made


# -- tokens --------------------------------------------------------------------------------
@tokens.command("create")
def create(
    name: str,
    label: str = typer.Option("", "--label", help="What the token is for."),
    days: int = typer.Option(accounts.DEFAULT_TOKEN_DAYS, "--days", help="Lifetime in days."),
    scope: list[str] = typer.Option(
        [], "--scope", help="Narrow the token to these permissions (repeatable)."
    ),
    as_json: bool = JSON,
) -> None:
    """Create an API token for an account; it is printed once and never again."""
    try:
        scopes = [Permission(s) for s in scope] or None
    except ValueError:
        raise typer.BadParameter(
            f"one of {', '.join(p.value for p in Permission)}", param_hint="--scope"
        ) from None

    async def go(rt: Runtime) -> tuple[str, ApiTokenRecord]:
        return await accounts.create_token(
            rt.sessions, name, actor=operator(), source=cli_source(), label=label, days=days,
            scopes=scopes,
        )  # fmt: skip

    token, row = _run(go)
    if as_json:
        out = {
            "id": row.id,
            "account": name,
            "token": token,
            "expires_at": row.expires_at.isoformat(),
        }
        sys.stdout.write(json.dumps(out) + "\n")
        return
    typer.echo(token)
    typer.echo(
        f"token {row.id} for {name}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC; shown once: "
        "keep it now (Authorization: Bearer ..., or TIDEGATE_TOKEN)",
        err=True,
    )


@tokens.command("list")
def list_tokens(
    name: str = typer.Argument("", help="Only this account's tokens."), as_json: bool = JSON
) -> None:
    """Tokens with their account, lifetime and state (never the tokens themselves)."""
    found = _run(lambda rt: accounts.list_tokens(rt.sessions, name or None))
    now = datetime.now(UTC)
    rows = [
        {
            "id": t.id,
            "account": t.account,
            "label": t.label,
            "scopes": t.scopes,
            "state": t.state(now),
            "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        }
        for t in found
    ]
    if as_json:
        sys.stdout.write(json.dumps({"tokens": rows}, ensure_ascii=False) + "\n")
        return
    shown = table("id", "account", "label", "state", "expires", "last used")
    for t in found:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else ""
        expires = f"{t.expires_at:%Y-%m-%d %H:%M}"
        shown.add_row(t.id, t.account, t.label, t.state(now), expires, used)
    console().print(shown)


@tokens.command("revoke")
def revoke(token_id: str) -> None:
    """Revoke a token by its id: it stops working at the next request."""
    _run(
        lambda rt: accounts.revoke_token(
            rt.sessions, token_id, actor=operator(), source=cli_source()
        )
    )
    typer.echo(f"revoked {token_id}")
