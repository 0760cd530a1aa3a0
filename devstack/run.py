"""``python -m devstack``: the whole local stack behind one command (what ``make run`` runs).

Sub-commands:

``run``
    Check the machine, fetch Kafka, start Temporal and Kafka, create the topics, migrate the
    database, then run the worker in the foreground. Ctrl-C or SIGTERM stops everything in
    reverse start order and leaves no process behind. State persists in ``data_dir``, so a
    second ``run`` finds its workflows, topics and offsets again.
``up`` / ``down`` / ``status``
    The same services left running in the background (pid files in ``data_dir``), for
    benchmarks and manual work.
``fetch``
    Only download the Kafka jars (``make setup`` does this).

Every problem a developer can fix is printed as one ``devstack: error: ...`` line with exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import logging
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from config.errors import ConfigError
from config.settings import ROOT, Settings, load_settings
from devstack import _proc
from devstack.errors import DevstackError, ToolMissingError
from devstack.kafka import (
    KafkaBroker,
    is_fetched,
    require_embedded_security,
    require_java,
    require_mvn,
)
from devstack.temporal import TemporalDevServer
from plans.errors import PlanError
from plans.loader import load_plan
from runtime.ops import (
    HQ_USER,
    OpsError,
    agency_user,
    ensure_access,
    ensure_topics,
    require_temporal,
    standard_topics,
)

log = logging.getLogger("devstack")

_AGENCY_ID = re.compile(r"^[A-Za-z0-9._-]+$")
_FOREGROUND_STOP_S = 20.0
_READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ForegroundCommand:
    """A process ``run`` keeps in the foreground and stops on Ctrl-C."""

    name: str
    argv: tuple[str, ...]
    ready_url: str | None = None
    """A URL that must answer before ``run`` says "all up" (``None``: started is enough)."""


def foreground_commands(settings: Settings) -> list[ForegroundCommand]:
    """What ``run`` starts after the services: the worker and the HTTP API."""
    host = "127.0.0.1" if settings.http_host in ("", "0.0.0.0", "::") else settings.http_host
    host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    return [
        ForegroundCommand("worker", (sys.executable, str(ROOT / "worker.py"))),
        ForegroundCommand(
            "HTTP API",
            (sys.executable, "-m", "cli.main", "serve"),
            ready_url=f"http://{host}:{settings.http_port}/openapi.json",
        ),
    ]


def say(message: str) -> None:
    """One progress line for the human at the terminal."""
    sys.stderr.write(f"devstack: {message}\n")
    sys.stderr.flush()


class _Interrupted(BaseException):
    """Ctrl-C or SIGTERM: unwind and stop everything that was started."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[Callable[[], None]]:
    """Turn the first SIGINT/SIGTERM into :class:`_Interrupted`; ignore later ones.

    Yields ``shield``, which ignores the signals from then on; call it before stopping
    services so that a second Ctrl-C cannot cut the shutdown short and orphan a JVM (every
    stop step is bounded by a SIGKILL timeout anyway).
    """
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def shield() -> None:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)

    def handler(signum: int, frame: FrameType | None) -> None:
        shield()
        say(f"{signal.Signals(signum).name} received: stopping")
        raise _Interrupted

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield shield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- checks --------------------------------------------------------------------------------
def preflight(settings: Settings, *, foreground: Sequence[ForegroundCommand], http: bool) -> None:
    """Fail before starting anything if a tool is missing, a port is taken or the Kafka
    settings are not the embedded broker's."""
    require_embedded_security(settings)
    require_java()
    if not is_fetched(settings.kafka_cache_dir, settings.kafka_version):
        require_mvn()
    require_temporal()
    for command in foreground:
        script = Path(command.argv[1]) if len(command.argv) > 1 else None
        if script is not None and script.suffix == ".py" and not script.is_file():
            raise ToolMissingError(f"{script} not found: the {command.name} cannot start")
    ports = {
        "Temporal": settings.temporal_port,
        "Temporal Web UI": settings.temporal_ui_port,
        "Kafka": settings.kafka_port,
        "Kafka controller": settings.kafka_controller_port,
    }
    if http:
        ports["HTTP API"] = settings.http_port
    _proc.require_ports_free(ports)


def resolve_agencies(settings: Settings, explicit: Sequence[str] | None) -> list[str]:
    """Agency ids for the task topics: ``--agencies``, else those of the plan's catalogue."""
    agencies = list(explicit or _plan_agencies(settings))
    bad = [a for a in agencies if not _AGENCY_ID.match(a)]
    if bad:
        raise DevstackError(f"agency ids cannot be used in topic names: {', '.join(bad)}")
    return agencies


def _plan_agencies(settings: Settings) -> list[str]:
    """The agencies of the plan; a plan that cannot be loaded stops here, as the worker would."""
    try:
        plan = load_plan(settings.plan_path)
    except PlanError as exc:
        errors = "; ".join(str(p) for p in exc.problems[:3])
        raise DevstackError(
            f"cannot read the agencies of plan {settings.plan_path}: {errors} "
            "(run 'tidegate plan check', or name them with --agencies)"
        ) from None
    return [agency.id for agency in plan.agencies]


# -- steps ---------------------------------------------------------------------------------
def migrate_database() -> None:
    """Run ``tidegate db upgrade`` if the CLI has it (it is idempotent)."""
    if importlib.util.find_spec("cli.main") is None:
        say("skipping database migrations: cli.main does not exist yet")
        return
    base = [sys.executable, "-m", "cli.main", "db", "upgrade"]
    probe = subprocess.run(
        [*base, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if probe.returncode != 0:
        if "No such command" in probe.stderr:
            say("skipping database migrations: `tidegate db upgrade` is not available yet")
            return
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise DevstackError(
            f"the tidegate CLI does not start, so the database cannot be migrated: {last}"
        )
    say("migrating the database (tidegate db upgrade)")
    result = subprocess.run(base, cwd=ROOT, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise DevstackError(
            f"`tidegate db upgrade` failed with exit status {result.returncode} "
            "(its output is above)"
        )


def ensure_first_admin(settings: Settings) -> None:
    """Create the first admin account on a fresh database and print its password once
    (``tidegate users bootstrap``: does nothing once an admin exists)."""
    host = "127.0.0.1" if settings.http_host in ("", "0.0.0.0", "::") else settings.http_host
    host = f"[{host}]" if ":" in host else host
    url = f"http://{host}:{settings.http_port}"
    accounts_file = settings.data_dir / "dev-accounts.txt"
    command = [
        sys.executable, "-m", "cli.main", "users", "bootstrap", "--url", url,
        "--dev-accounts", str(accounts_file),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise DevstackError(
            f"`tidegate users bootstrap` failed with exit status {result.returncode} "
            "(its output is above)"
        )


def start_services(
    settings: Settings,
    stack: contextlib.ExitStack,
    *,
    agencies: Sequence[str],
    detach: bool,
    migrate: bool = True,
) -> tuple[TemporalDevServer, KafkaBroker]:
    """Start Temporal and Kafka, create the topics and migrate; stops are pushed on ``stack``.

    Each stop is registered *before* its start, so an interrupt in the middle of a start
    still stops the half-started process.
    """
    broker = KafkaBroker.from_settings(settings, detach=detach)
    if not is_fetched(broker.cache_dir, broker.version):
        say(f"fetching Kafka {broker.version} jars with Maven (first run only)")
    broker.fetch()

    temporal = TemporalDevServer.from_settings(settings, detach=detach)
    say(f"starting the Temporal dev server on {temporal.address} (state in {temporal.db_file})")
    stack.callback(_stopping, "Temporal", temporal.stop)
    temporal.start()
    say(f"Temporal Web UI: {temporal.ui_url}")

    reuse = broker.is_formatted()
    say(
        f"starting Kafka {broker.version} on {broker.bootstrap} "
        f"({'reusing' if reuse else 'formatting'} storage in {broker.storage_dir})"
    )
    stack.callback(_stopping, "Kafka", broker.stop)
    broker.start(fresh=False)

    topics = standard_topics(settings, agencies)
    say(f"ensuring {len(topics)} Kafka topics (agencies: {', '.join(agencies)})")
    asyncio.run(ensure_topics(settings, topics))
    secure_agencies(settings, broker, agencies)

    if migrate:
        migrate_database()
    else:
        say("skipping database migrations (--skip-migrations)")
    return temporal, broker


def secure_agencies(settings: Settings, broker: KafkaBroker, agencies: Sequence[str]) -> None:
    """A Kafka user per agency and one for the HQ's system, each with a password generated
    once, and their ACLs; say where the passwords are."""
    users = [agency_user(agency) for agency in agencies] + [HQ_USER]
    passwords = broker.passwords(users)
    asyncio.run(ensure_access(settings, agencies, {user: passwords[user] for user in users}))
    say(
        f"Kafka users (SASL/SCRAM-SHA-512): {broker.admin_user} (tidegate, super user), "
        f"agency-<id> per agency, e.g. {users[0] if agencies else 'agency-drainage'}, and "
        f"{HQ_USER} (the HQ's decisions); passwords in {broker.credentials_file} "
        "(docs/kafka-security.md)"
    )


def _stopping(what: str, stop: Callable[[], None]) -> None:
    say(f"stopping {what}")
    stop()


def _stop_foreground(command: ForegroundCommand, popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is not None:
        return
    say(f"stopping the {command.name} (pid {popen.pid})")
    _proc.terminate(popen.pid, timeout=_FOREGROUND_STOP_S, what=command.name, popen=popen)


# -- sub-commands --------------------------------------------------------------------------
def cmd_run(
    settings: Settings,
    *,
    agencies: Sequence[str] | None,
    foreground: Sequence[ForegroundCommand] | None,
    migrate: bool = True,
) -> int:
    """The ``run`` sub-command; returns the exit status."""
    commands = list(foreground) if foreground is not None else foreground_commands(settings)
    preflight(settings, foreground=commands, http=True)
    chosen = resolve_agencies(settings, agencies)
    code = 0
    with _stop_on_signals() as shield, contextlib.ExitStack() as stack:
        try:
            start_services(settings, stack, agencies=chosen, detach=False, migrate=migrate)
            if migrate:
                ensure_first_admin(settings)
            running: list[tuple[ForegroundCommand, subprocess.Popen[bytes]]] = []
            for command in commands:
                say(f"starting the {command.name}: {shlex.join(command.argv)}")
                popen = _proc.spawn_foreground(command.argv, cwd=ROOT)
                stack.callback(_stop_foreground, command, popen)
                running.append((command, popen))
            if _all_answer(running):
                for command in commands:
                    if command.ready_url and command.ready_url.endswith("/openapi.json"):
                        console = command.ready_url.removesuffix("openapi.json")
                        say(f"console: open {console} (board, warnings, agency desks, drills)")
                say("all up; press Ctrl-C to stop everything")
                code = _supervise(running)
            else:
                code = 1
        except _Interrupted:
            code = 0
        finally:
            shield()  # the stack unwinds next: stop everything without interruption
    say("stopped")
    return code


def _all_answer(running: Sequence[tuple[ForegroundCommand, subprocess.Popen[bytes]]]) -> bool:
    """Wait until every command with a ``ready_url`` answers it; False if one exits first."""
    for command, popen in running:
        if command.ready_url is None:
            continue
        say(f"waiting for the {command.name} to answer on {command.ready_url}")
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while not _answers(command.ready_url):
            status = popen.poll()
            if status is not None:
                say(f"the {command.name} exited with status {status}; stopping the rest")
                return False
            if time.monotonic() > deadline:
                say(f"the {command.name} did not answer in {_READY_TIMEOUT_S:.0f} s; stopping")
                return False
            time.sleep(0.2)
    return True


def _answers(url: str) -> bool:
    """Whether ``url`` gives an HTTP answer below 500."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def _supervise(running: Sequence[tuple[ForegroundCommand, subprocess.Popen[bytes]]]) -> int:
    """Wait until a foreground process exits; its failure becomes ``run``'s failure."""
    while True:
        for command, popen in running:
            status = popen.poll()
            if status is not None:
                say(f"the {command.name} exited with status {status}; stopping the rest")
                return 0 if status == 0 else 1
        time.sleep(0.2)


def cmd_up(settings: Settings, *, agencies: Sequence[str] | None, migrate: bool = True) -> int:
    """Start the services in the background and return."""
    preflight(settings, foreground=(), http=False)
    chosen = resolve_agencies(settings, agencies)
    with _stop_on_signals() as shield, contextlib.ExitStack() as stack:
        try:
            temporal, broker = start_services(
                settings, stack, agencies=chosen, detach=True, migrate=migrate
            )
            stack.pop_all()  # success: leave them running
        finally:
            shield()
    say(f"up: Temporal {temporal.address} (pid file {temporal.pid_file})")
    say(f"up: Kafka {broker.bootstrap} (pid file {broker.pid_file})")
    say(f"Temporal Web UI: {temporal.ui_url}; stop with `python -m devstack down`")
    return 0


def cmd_down(settings: Settings) -> int:
    """Stop background services started by ``up`` (Kafka first, then Temporal)."""
    for name, service in (
        ("Kafka", KafkaBroker.from_settings(settings)),
        ("Temporal", TemporalDevServer.from_settings(settings)),
    ):
        pid = service.pid()
        if pid is None:
            say(f"{name} is not running")
            continue
        say(f"stopping {name} (pid {pid})")
        service.stop()
    return 0


def cmd_status(settings: Settings) -> int:
    """Print each service's state; exit 0 only if all are up."""
    broker = KafkaBroker.from_settings(settings)
    temporal = TemporalDevServer.from_settings(settings)
    all_up = True
    for name, pid, port, addr in (
        ("Temporal", temporal.pid(), temporal.port, temporal.address),
        ("Kafka", broker.pid(), broker.port, broker.bootstrap),
    ):
        if pid is None:
            state = "busy (not ours)" if _proc.port_open(port) else "stopped"
            all_up = False
        else:
            state = f"running, pid {pid}" + ("" if _proc.port_open(port) else ", not listening")
            all_up = all_up and _proc.port_open(port)
        say(f"{name:<9} {addr:<22} {state}")
    say(f"{'Web UI':<9} {temporal.ui_url}")
    return 0 if all_up else 1


def cmd_fetch(settings: Settings) -> int:
    """Download the Kafka jars if they are not cached yet."""
    broker = KafkaBroker.from_settings(settings)
    if is_fetched(broker.cache_dir, broker.version):
        say(f"Kafka {broker.version} jars already in {broker.cache_dir}")
        return 0
    say(f"fetching Kafka {broker.version} jars with Maven into {broker.cache_dir}")
    path = broker.fetch()
    say(f"Kafka {broker.version} jars ready in {path}")
    return 0


# -- entry point ---------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "start everything and run the worker in the foreground"),
        ("up", "start Temporal and Kafka in the background"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument(
            "--agencies",
            type=lambda s: [a.strip() for a in s.split(",") if a.strip()],
            default=None,
            help="comma-separated agency ids for the task topics (default: from the plan)",
        )
        cmd.add_argument(
            "--skip-migrations",
            action="store_true",
            help="do not run `tidegate db upgrade`",
        )
    sub.choices["run"].add_argument(
        "--foreground",
        action="append",
        metavar="COMMAND",
        help="replace the foreground processes (default: worker.py); repeatable, for tests",
    )
    sub.add_parser("down", help="stop what `up` started")
    sub.add_parser("status", help="show which services run")
    sub.add_parser("fetch", help="download the Kafka jars (cached)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run a sub-command, and turn known problems into one line + exit 2."""
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("devstack: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        settings = load_settings()
        if args.command == "run":
            foreground = None
            if args.foreground:
                foreground = [
                    ForegroundCommand(shlex.split(c)[0], tuple(shlex.split(c)))
                    for c in args.foreground
                ]
            return cmd_run(
                settings,
                agencies=args.agencies,
                foreground=foreground,
                migrate=not args.skip_migrations,
            )
        if args.command == "up":
            return cmd_up(settings, agencies=args.agencies, migrate=not args.skip_migrations)
        if args.command == "down":
            return cmd_down(settings)
        if args.command == "status":
            return cmd_status(settings)
        return cmd_fetch(settings)
    except (DevstackError, ConfigError, OpsError) as exc:
        say(f"error: {exc}")
        return 2
    except (KeyboardInterrupt, _Interrupted):
        say("interrupted")
        return 130
