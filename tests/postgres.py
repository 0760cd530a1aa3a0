"""A private, throw-away PostgreSQL cluster for tests, from the Debian package's binaries.

The store must behave the same on SQLite and PostgreSQL, so the tests run against a real server.
We do not touch the system cluster: ``initdb`` creates a new one in a directory we own, on a
loopback port, with trust authentication and ``fsync=off`` (it is disposable, and this makes
``CREATE DATABASE`` per test cheap). PostgreSQL refuses to run as root, so as root every command
runs as the ``postgres`` OS user through ``runuser``.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devstack import _proc
from devstack.errors import DevstackError, ServiceStartError, ToolMissingError

log = logging.getLogger(__name__)

DEFAULT_PORT = 55432
OS_USER = "postgres"
DB_USER = "postgres"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def bin_dir() -> Path | None:
    """Directory holding ``initdb`` and ``pg_ctl``: the newest Debian install, else PATH."""
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def available() -> bool:
    """Whether the PostgreSQL server binaries are installed."""
    return bin_dir() is not None


def _as_root() -> bool:
    return os.geteuid() == 0


class PostgresCluster(_proc.Service):
    """A PostgreSQL cluster under ``root_dir`` listening on ``127.0.0.1:port``.

    ``root_dir`` and all its parents must be traversable by the ``postgres`` user when running
    as root (``/tmp/...`` is; pytest's ``tmp_path`` is not, its base is mode 0700).
    """

    def __init__(self, *, root_dir: Path, port: int = DEFAULT_PORT, host: str = _proc.LOOPBACK):
        self.root_dir = root_dir.resolve()
        self.port = port
        self.host = host

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory."""
        return self.root_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        """The server log (written by ``pg_ctl -l``)."""
        return self.root_dir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy async URL of ``database`` on this cluster."""
        return f"postgresql+asyncpg://{DB_USER}@{self.host}:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        directory = bin_dir()
        if directory is None:
            raise ToolMissingError(
                "PostgreSQL server binaries not found: apt-get install postgresql"
            )
        return str(directory / name)

    def _run(self, argv: list[str], *, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        if _as_root():
            argv = ["runuser", "-u", OS_USER, "--", *argv]
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=self.root_dir,
        )

    def _prepare_dir(self) -> None:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        if not _as_root():
            return
        try:
            entry = pwd.getpwnam(OS_USER)
        except KeyError:
            raise ToolMissingError(
                f"no `{OS_USER}` OS user to run PostgreSQL as (root cannot): "
                "apt-get install postgresql creates it"
            ) from None
        for path in [self.root_dir, *self.root_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        probe = self._run(["test", "-w", str(self.root_dir)], timeout=10)
        if probe.returncode != 0:
            raise DevstackError(
                f"the {OS_USER} user cannot reach {self.root_dir}: put the cluster under a "
                "directory whose parents are world-traversable (e.g. /tmp)"
            )

    def is_running(self) -> bool:
        """Whether a postmaster runs for our data directory."""
        if not (self.pgdata / "PG_VERSION").is_file():
            return False
        return self._run([self._bin("pg_ctl"), "status", "-D", str(self.pgdata)]).returncode == 0

    def start(self, *, timeout: float = 60.0) -> None:
        """Create the cluster if needed and start it; returns when it accepts connections."""
        started = time.monotonic()
        self._prepare_dir()
        if not (self.pgdata / "PG_VERSION").is_file():
            result = self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    DB_USER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            )
            if result.returncode != 0:
                raise ServiceStartError(f"initdb failed: {_last_line(result)}")
        if self.is_running():
            return
        _proc.require_ports_free({"PostgreSQL": self.port}, self.host)
        options = " ".join(
            [
                f"-p {self.port}",
                f"-c listen_addresses={self.host}",
                "-c unix_socket_directories=''",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        result = self._run(
            [
                self._bin("pg_ctl"),
                "start",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
            ],
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            raise ServiceStartError(
                f"pg_ctl start failed: {_last_line(result)}; see {self.log_file}"
            )
        log.info(
            "PostgreSQL ready on %s:%d (%.1fs)", self.host, self.port, time.monotonic() - started
        )

    def stop(self) -> None:
        """Fast shutdown (disconnects clients); safe when it is not running."""
        if not self.is_running():
            return
        result = self._run(
            [self._bin("pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w"], timeout=60
        )
        if result.returncode != 0:
            raise ServiceStartError(f"pg_ctl stop failed: {_last_line(result)}")

    def destroy(self) -> None:
        """Stop the cluster and delete its directory."""
        self.stop()
        shutil.rmtree(self.root_dir, ignore_errors=True)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


async def create_database(server_url: str, name: str) -> str:
    """``CREATE DATABASE name`` on the server of ``server_url``; returns the new database's URL.

    ``server_url`` is any SQLAlchemy asyncpg URL on that server (usually its ``postgres`` db).
    """
    if not _DB_NAME.match(name):
        raise ValueError(f"unsafe database name: {name!r}")
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    """Drop a database, disconnecting anyone still using it (PostgreSQL 13+)."""
    if not _DB_NAME.match(name):
        raise ValueError(f"unsafe database name: {name!r}")
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()
