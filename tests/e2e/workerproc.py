"""The production worker as a real subprocess (``python worker.py``), so a test can SIGKILL it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from config.settings import ROOT, Settings
from devstack import _proc
from tests.e2e.harness import env_for

READY_LINE = b"tidegate worker running"


class WorkerProcess:
    """One ``python worker.py`` at a time, started and killed on demand; output to ``log``."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def env(self) -> dict[str, str]:
        """The harness environment plus this test's own consumer group and topics."""
        s = self.settings
        return env_for(s) | {
            "TIDEGATE_CONSUMER_GROUP": s.consumer_group,
            "TIDEGATE_TOPIC_PREFIX": s.topic_prefix,
            "TIDEGATE_DRILL_TOPIC_PREFIX": s.drill_topic_prefix,
            "TIDEGATE_TOPIC_PARTITIONS": str(s.topic_partitions),
        }

    async def start(self, client: Client | None = None, within: float = 60.0) -> float:
        """Spawn the worker; return the seconds until it runs.

        With ``client``, "runs" means its Temporal worker polls the task queue (the Kafka
        consumers may still wait for a group rebalance after a SIGKILL: up to the 10 s session
        timeout). Without, it means the worker logged that everything started.
        """
        assert self.popen is None or self.popen.poll() is not None, "already running"
        offset = self.log.stat().st_size if self.log.exists() else 0
        started = time.monotonic()
        self.popen = _proc.spawn(
            [sys.executable, str(ROOT / "worker.py")],
            log_path=self.log,
            cwd=ROOT,
            detach=False,
            env=self.env(),
        )
        self.starts += 1
        while time.monotonic() - started < within:
            if client is not None:
                if await self._polling(client):
                    return time.monotonic() - started
            else:
                with self.log.open("rb") as out:
                    out.seek(offset)
                    if READY_LINE in out.read():
                        return time.monotonic() - started
            if self.popen.poll() is not None:
                raise AssertionError(f"worker exited with {self.popen.returncode}; see {self.log}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker not ready within {within}s; see {self.log}")

    async def _polling(self, client: Client) -> bool:
        """Whether this process (Temporal's default identity is ``<pid>@<host>``) polls."""
        try:
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=self.settings.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
        except Exception:  # the server may be restarting
            return False
        return any(p.identity.startswith(f"{self.pid}@") for p in described.pollers)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, in-flight work simply vanishes."""
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    async def stop(self) -> None:
        """SIGTERM and wait (the worker's graceful path); SIGKILL if it hangs."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            await asyncio.to_thread(self.popen.wait, 30)
        except subprocess.TimeoutExpired:
            self.kill()
