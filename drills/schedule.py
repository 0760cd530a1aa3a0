"""Scheduled drills: APScheduler jobs kept in the database, run by the worker process.

``tidegate drill schedule STORM --cron '0 9 * * 1'`` adds a job to APScheduler's
``SQLAlchemyJobStore`` (table ``apscheduler_jobs``, created by the Alembic migration 0002 so
the schema stays Alembic's); ``--list`` and ``--remove ID`` read and delete them. The worker
enters :class:`DrillScheduler`, an ``AsyncIOScheduler`` over the same store, which looks for
jobs added by other processes every ``POLL_SECONDS`` (APScheduler 3 only re-reads its store
when it wakes up).

A job only triggers: :func:`run_scheduled_drill` runs ``tidegate drill run`` as a subprocess
(``--fast`` unless the schedule says ``--speed N``), so a drill's load never competes with the
worker's live event loop, and writes the report under ``<data dir>/drills/``. The job keeps the
name of the account that scheduled it (``scheduled_by``); the subprocess is given no token but
``--scheduled <job id>``, and acts as that account, checked again then (still enabled, still
allowed to run drills) and audited (:mod:`access.terminal`). Recurring work
*within* a response stays a workflow timer; this is work *across* responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.pool import NullPool

from config.settings import ROOT, Settings

log = logging.getLogger("tidegate.drill.schedule")

TABLE = "apscheduler_jobs"
POLL_SECONDS = 30.0
"""How often the worker's scheduler looks for jobs other processes added."""
TIMEZONE = "Asia/Shanghai"
"""Cron expressions are read in the city's time."""
JOB_PREFIX = "drill-"


@dataclass(frozen=True)
class ScheduledDrill:
    """A scheduled drill as ``--list`` shows it."""

    id: str
    storm: str
    trigger: str
    next_run: datetime | None
    command: str
    scheduled_by: str = ""
    """The account that scheduled it; the drill runs as this account."""


def sync_url(db_url: str) -> str:
    """The synchronous SQLAlchemy URL APScheduler's job store needs for tidegate's database.

    ``sqlite+aiosqlite:///x`` becomes ``sqlite:///x`` and ``postgresql+asyncpg://...``
    becomes ``postgresql+psycopg://...``; other URLs are returned unchanged.
    """
    for async_prefix, sync_prefix in (
        ("sqlite+aiosqlite://", "sqlite://"),
        ("postgresql+asyncpg://", "postgresql+psycopg://"),
    ):
        if db_url.startswith(async_prefix):
            return sync_prefix + db_url[len(async_prefix) :]
    return db_url


def job_store(settings: Settings) -> SQLAlchemyJobStore:
    """The job store in tidegate's own database.

    Without a connection pool: the store is used once per poll, and a pooled connection left
    behind by APScheduler's scheduler thread would outlive ``shutdown``.
    """
    return SQLAlchemyJobStore(
        url=sync_url(settings.db_url), tablename=TABLE, engine_options={"poolclass": NullPool}
    )


@contextlib.contextmanager
def _editing(settings: Settings) -> Iterator[BackgroundScheduler]:
    """A paused scheduler over the store: it reads and writes jobs but never runs them."""
    scheduler = BackgroundScheduler(jobstores={"default": job_store(settings)}, timezone=TIMEZONE)
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def _describe(job: Any) -> ScheduledDrill:
    kwargs = dict(job.kwargs)
    scheduled_by = str(kwargs.pop("scheduled_by", ""))
    return ScheduledDrill(
        id=job.id,
        storm=str(kwargs.get("storm")),
        trigger=str(job.trigger),
        next_run=getattr(job, "next_run_time", None),
        command=" ".join(drill_command(**kwargs)[3:]),
        scheduled_by=scheduled_by,
    )


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_trigger(expression: str) -> CronTrigger:
    """A trigger for a five-field crontab expression, read in the city's time.

    APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0 (and 7), so numeric
    weekdays are turned into names first: ``0 9 * * 1`` is Monday 09:00, as in crontab.

    Raises:
        ValueError: Not five fields, or a field APScheduler refuses.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r}: a crontab expression has 5 fields, got {len(fields)}")
    fields[4] = re.sub(r"(?<![/\d])\d+", lambda m: _WEEKDAYS[int(m.group()) % 7], fields[4])
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=day_of_week,
        timezone=TIMEZONE,
    )


def add_drill(
    settings: Settings,
    storm: str,
    cron: str,
    *,
    speed: float | None = None,
    seed: int = 0,
    report_dir: Path | None = None,
    scheduled_by: str = "",
) -> ScheduledDrill:
    """Schedule ``storm`` on ``cron`` (five crontab fields, city time), to run as the account
    ``scheduled_by``.

    Raises:
        ValueError: The cron expression is invalid.
    """
    trigger = crontab_trigger(cron)
    job_id = f"{JOB_PREFIX}{uuid.uuid4().hex[:8]}"
    kwargs: dict[str, Any] = {
        "storm": storm,
        "speed": speed,
        "seed": seed,
        "report_root": str(report_dir or settings.data_dir / "drills"),
        "job": job_id,
        "scheduled_by": scheduled_by,
    }
    with _editing(settings) as scheduler:
        job = scheduler.add_job(
            "drills.schedule:run_scheduled_drill",
            trigger,
            kwargs=kwargs,
            id=job_id,
            name=f"drill {storm}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
        return _describe(job)


def list_drills(settings: Settings) -> list[ScheduledDrill]:
    """Every scheduled drill, soonest first."""
    with _editing(settings) as scheduler:
        jobs = [_describe(job) for job in scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)]
    return sorted(jobs, key=lambda j: (j.next_run is None, j.next_run or datetime.max, j.id))


def find_drill(settings: Settings, job_id: str) -> ScheduledDrill | None:
    """The scheduled drill ``job_id``, or ``None``."""
    with _editing(settings) as scheduler:
        job = scheduler.get_job(job_id) if job_id.startswith(JOB_PREFIX) else None
        return _describe(job) if job is not None else None


def remove_drill(settings: Settings, job_id: str) -> bool:
    """Remove a scheduled drill; False when there is none with that id."""
    with _editing(settings) as scheduler:
        if scheduler.get_job(job_id) is None:
            return False
        scheduler.remove_job(job_id)
        return True


def drill_command(
    storm: str,
    speed: float | None = None,
    seed: int = 0,
    report_root: str | None = None,
    job: str | None = None,
) -> list[str]:
    """The ``tidegate drill run`` command line of a scheduled drill (report in ``report_root``,
    the job adds a folder per run; ``--scheduled`` names the job it runs for)."""
    mode = ["--speed", f"{speed:g}"] if speed else ["--fast"]
    report = ["--report", report_root] if report_root else []
    scheduled = ["--scheduled", job] if job else []
    command = [sys.executable, "-m", "cli.main", "drill", "run", storm, *mode]
    return [*command, "--seed", str(seed), *report, "--json", *scheduled]


async def run_scheduled_drill(
    storm: str,
    speed: float | None = None,
    seed: int = 0,
    report_root: str = "drills",
    job: str | None = None,
    scheduled_by: str = "",
) -> dict[str, Any] | None:
    """The scheduled job: run the drill in a subprocess and log its summary.

    ``scheduled_by`` is not passed on: the drill reads it back from the job (``job``), so a
    command line cannot claim another account.

    Returns:
        The drill's ``--json`` object, or ``None`` when it failed (logged).
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = str(Path(report_root) / f"{stamp}-{Path(storm).stem}")
    command = drill_command(storm, speed, seed, directory, job)
    log.info("scheduled drill %s starting: %s", storm, " ".join(command[3:]))
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        log.error(
            "scheduled drill %s failed (%s): %s", storm, process.returncode, err.decode()[-2000:]
        )
        return None
    summary: dict[str, Any] = json.loads(out.decode())
    log.info(
        "scheduled drill %s done in %.1f s: %s tasks, %s escalations, report %s",
        storm,
        summary.get("wall_seconds", 0.0),
        summary.get("tasks_dispatched"),
        summary.get("escalations"),
        directory,
    )
    return summary


class DrillScheduler:
    """The worker's scheduler: runs scheduled drills until the worker stops."""

    def __init__(self, settings: Settings, poll_seconds: float = POLL_SECONDS) -> None:
        self._settings = settings
        self._poll = poll_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._waker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        """Start the scheduler on the running loop (creates the job table if missing)."""
        scheduler = AsyncIOScheduler(
            jobstores={"default": job_store(self._settings)}, timezone=TIMEZONE
        )
        scheduler.start()
        self._scheduler = scheduler
        self._waker = asyncio.create_task(self._wake_up())
        log.info("drill scheduler running (%d scheduled drills)", len(scheduler.get_jobs()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop looking for jobs and shut the scheduler down (running drills are not waited)."""
        if self._waker is not None:
            self._waker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._waker
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def _wake_up(self) -> None:
        assert self._scheduler is not None
        while True:
            await asyncio.sleep(self._poll)
            self._scheduler.wakeup()
