"""Port and process helpers shared by the service launchers.

Services are started in their own session (process group) so that a Ctrl-C in the terminal
reaches only ``python -m devstack``, which then stops them in a chosen order instead of all
of them racing to shut down at once. Because a process group outlives its parent, a service
owned by a foreground process also gets ``PR_SET_PDEATHSIG``: if the owner is SIGKILLed, the
kernel still terminates the service and no JVM is left behind.
"""

from __future__ import annotations

import abc
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

from devstack.errors import PortInUseError, ServiceStartError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could bind ``host:port`` now.

    SO_REUSEADDR mirrors what the JVM and Go servers set, so a port lingering in TIME_WAIT
    after a previous run counts as free, while a live listener (on any address) does not.
    """
    if port_open(port, host, timeout=0.2):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_ports_free(ports: Mapping[str, int], host: str = LOOPBACK) -> None:
    """Raise :class:`PortInUseError` naming the first busy port and what needs it."""
    for what, port in ports.items():
        if not port_free(port, host):
            raise PortInUseError(
                f"port {port} ({what}) is already in use on {host}: stop whatever holds it "
                f"(another `make run`? try `python -m devstack down`) or pick another port "
                f"through the TIDEGATE_* settings"
            )


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct free ports: every socket stays bound until all are chosen."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def wait_for_port(
    port: int,
    *,
    timeout: float,
    alive: Callable[[], bool],
    what: str,
    host: str = LOOPBACK,
    log_hint: Path | None = None,
) -> None:
    """Poll until ``host:port`` accepts connections; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        if not alive():
            hint = f"; see {log_hint}" if log_hint else ""
            raise ServiceStartError(f"{what} exited during start-up{hint}")
        time.sleep(0.2)
    hint = f"; see {log_hint}" if log_hint else ""
    raise ServiceStartError(f"{what} did not open {host}:{port} within {timeout:.0f}s{hint}")


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    detach: bool,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a service in its own process group with stdout+stderr appended to ``log_path``.

    ``detach=False`` ties the service's life to this thread (see the module docstring); it is
    only honoured on the main thread because PDEATHSIG fires when the *spawning thread* exits.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tie = not detach and threading.current_thread() is threading.main_thread()
    with log_path.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if tie else None,
        )


def read_pid(pid_file: Path, marker: str) -> int | None:
    """The pid recorded in ``pid_file`` if that process is alive and really ours.

    ``marker`` must appear in the process's command line, so a recycled pid that now belongs
    to something else is never signalled.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if not any(marker in part for part in proc.cmdline()):
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return pid


def terminate(
    pid: int,
    *,
    timeout: float,
    what: str,
    popen: subprocess.Popen[bytes] | None = None,
) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL it if it outlives ``timeout``."""
    _signal_group(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout, popen):
        return
    log.warning("%s (pid %d) ignored SIGTERM for %.0fs; sending SIGKILL", what, pid, timeout)
    _signal_group(pid, signal.SIGKILL)
    if not _wait_gone(pid, 10.0, popen):
        raise ServiceStartError(f"{what} (pid {pid}) survived SIGKILL")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    except PermissionError:
        os.kill(pid, sig)


def _wait_gone(pid: int, timeout: float, popen: subprocess.Popen[bytes] | None) -> bool:
    if popen is not None:
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        psutil.Process(pid).wait(timeout=timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages; empty if it cannot be read."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def spawn_foreground(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a foreground process that shares our terminal output but not our signals.

    It gets its own session so a terminal Ctrl-C reaches only the supervisor, which then stops
    everything in reverse start order; PDEATHSIG still takes it down if the supervisor dies.
    """
    tie = threading.current_thread() is threading.main_thread()
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if tie else None,
    )


class Service(abc.ABC):
    """``with`` support for a service object: ``__enter__`` starts it, ``__exit__`` stops it."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the service and wait until it is ready."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the service; safe when it is not running."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
