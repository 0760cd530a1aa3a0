"""Entry point of a tidegate worker: load settings once, build the services, run until stopped.

One process runs the Temporal worker, the Kafka intakes and the drill scheduler, all built by
one :class:`~runtime.services.Runtime` (``runtime.wiring`` lists what is registered). SIGINT or
SIGTERM stops the consumers first (no new work), then the worker (in-flight activities finish),
then the runtime closes the producer and the database engine.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from contextlib import AsyncExitStack

from config.errors import ConfigError
from config.settings import Settings, load_settings
from drills.schedule import DrillScheduler
from runtime.services import Runtime
from runtime.wiring import build_intakes, build_worker

log = logging.getLogger("tidegate.worker")


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Run the worker and consumers until ``stop`` is set."""
    async with Runtime(settings) as rt, AsyncExitStack() as stack:
        await stack.enter_async_context(await build_worker(rt))
        for intake in await build_intakes(rt):
            await stack.enter_async_context(intake)
        await stack.enter_async_context(DrillScheduler(settings))
        log.info("tidegate worker running on task queue %r", settings.task_queue)
        await stop.wait()
        log.info("stopping")


def main() -> int:
    """Entry point for ``python worker.py`` and ``tidegate worker``."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # group joins are not news
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"tidegate: {exc}\n")
        return 2

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    try:
        asyncio.run(_main())
    except ConfigError as exc:
        sys.stderr.write(f"tidegate: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    from cli.exit import exit_now

    exit_now(main())
