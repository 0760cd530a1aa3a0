"""``python -m devstack``: one-line errors with exit 2, and ``run``/``up`` leave nothing behind."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from config.settings import ROOT
from devstack import _proc


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a devstack child: own data dir, free ports, shared jar cache."""
    temporal, ui, kafka, controller, http = _proc.free_ports(5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE_")}
    env |= {
        "TIDEGATE_DATA_DIR": str(tmp_path / "data"),
        "TIDEGATE_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "TIDEGATE_TEMPORAL_UI_PORT": str(ui),
        "TIDEGATE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "TIDEGATE_KAFKA_CONTROLLER_PORT": str(controller),
        "TIDEGATE_HTTP_PORT": str(http),
    }
    return env


def _devstack(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("devstack: error: ")
    assert expected in last


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_busy_port_is_one_line_and_exit_2(stack_env: dict[str, str], listener: int) -> None:
    stack_env["TIDEGATE_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{listener}"
    result = _devstack("run", env=stack_env)
    _assert_one_line_error(result, f"port {listener} (Kafka) is already in use")
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_java(stack_env: dict[str, str], tmp_path: Path) -> None:
    stack_env.pop("JAVA_HOME", None)
    stack_env["PATH"] = str(tmp_path / "empty-bin")
    result = _devstack("run", env=stack_env)
    _assert_one_line_error(result, "java not found")


def test_old_java(stack_env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(0o755)
    stack_env.pop("JAVA_HOME", None)
    stack_env["PATH"] = f"{bin_dir}:{stack_env['PATH']}"
    result = _devstack("run", env=stack_env)
    _assert_one_line_error(result, "Java 11, Kafka 4 needs Java 17+")


def test_settings_the_embedded_broker_would_turn_away(stack_env: dict[str, str]) -> None:
    stack_env["TIDEGATE_KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    result = _devstack("run", env=stack_env)
    _assert_one_line_error(result, "the embedded Kafka broker authenticates every client")


def test_unresolvable_kafka_version(stack_env: dict[str, str], tmp_path: Path) -> None:
    stack_env["TIDEGATE_KAFKA_VERSION"] = "4.99.0"
    stack_env["TIDEGATE_KAFKA_CACHE_DIR"] = str(tmp_path / "kafka-cache")
    result = _devstack("run", "--skip-migrations", env=stack_env)
    _assert_one_line_error(result, "Maven could not resolve Kafka 4.99.0")


def _ours(data_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions this test's data dir (JVM, temporal)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def _run_until_up(
    env: dict[str, str], marker: str | None
) -> tuple[subprocess.Popen[str], list[str]]:
    """``devstack run`` until it says "all up": a ``sleep`` in the foreground, or with no
    ``marker`` the real worker and HTTP API (and the migrations they need)."""
    if marker is None:
        options = []
    else:
        sleep = shlex.join([sys.executable, "-c", "import time; time.sleep(600)", marker])
        options = ["--skip-migrations", "--foreground", sleep]
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run", "--agencies", "drainage", *options],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "all up" in line:
            return proc, lines
    proc.kill()
    pytest.fail("devstack run did not come up:\n" + "\n".join(lines))


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> list[str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err.splitlines()


def test_run_stops_everything_and_runs_again(stack_env: dict[str, str], tmp_path: Path) -> None:
    data_dir = Path(stack_env["TIDEGATE_DATA_DIR"])
    marker = str(tmp_path / "fg-marker")  # only in the foreground `sleep` command line

    proc, lines = _run_until_up(stack_env, marker)
    assert any("Temporal Web UI: http://127.0.0.1:" in line for line in lines)
    assert any("formatting storage" in line for line in lines)
    credentials = data_dir / "kafka" / "credentials.json"
    assert any(f"passwords in {credentials}" in line for line in lines)
    assert credentials.stat().st_mode & 0o777 == 0o600
    users = credentials.read_text()
    assert all(user in users for user in ("tidegate", "tidegate-broker", "agency-drainage"))
    assert len(_ours(data_dir)) == 2  # Temporal + Kafka
    tail = _stop(proc, signal.SIGINT)
    assert tail[-1] == "devstack: stopped"
    assert _ours(data_dir) == []
    assert not any(marker in " ".join(p.cmdline()) for p in psutil.process_iter())

    proc, lines = _run_until_up(stack_env, marker)  # same data dir: storage is reused
    assert any("reusing storage" in line for line in lines)
    assert credentials.read_text() == users  # and so are the passwords
    _stop(proc, signal.SIGTERM)
    assert _ours(data_dir) == []


def test_up_status_down(stack_env: dict[str, str]) -> None:
    data_dir = Path(stack_env["TIDEGATE_DATA_DIR"])
    up = _devstack("up", "--agencies", "drainage", "--skip-migrations", env=stack_env)
    try:
        assert up.returncode == 0, up.stderr
        assert _devstack("status", env=stack_env).returncode == 0
        assert len(_ours(data_dir)) == 2
    finally:
        down = _devstack("down", env=stack_env)
    assert down.returncode == 0, down.stderr
    assert _ours(data_dir) == []
    assert _devstack("status", env=stack_env).returncode == 1


def test_run_says_all_up_only_once_the_http_api_answers(stack_env: dict[str, str]) -> None:
    """Issue #9 item 10: "all up" came while ``tidegate serve`` was still starting."""
    proc, lines = _run_until_up(stack_env, None)
    try:
        url = f"http://127.0.0.1:{stack_env['TIDEGATE_HTTP_PORT']}/openapi.json"
        with urllib.request.urlopen(url, timeout=10) as answer:  # at once: no retry
            assert answer.status == 200
        assert any(f"waiting for the HTTP API to answer on {url}" in line for line in lines)
    finally:
        _stop(proc, signal.SIGINT)
