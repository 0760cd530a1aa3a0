"""Scheduled drills: jobs in the database (SQLite and PostgreSQL), added, listed, removed and
run by the worker's scheduler."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from access.audit import entries
from access.matrix import Role
from cli.exit import ExitCode
from cli.main import app
from config.settings import Settings
from drills import schedule
from drills.schedule import DrillScheduler, add_drill, list_drills, remove_drill, sync_url
from store.db import create_engine, session_maker
from store.migrate import upgrade_async
from tests.e2e.harness import token_of

RUNS: list[str] = []


async def mark(label: str) -> None:
    """A stand-in job: proves the worker's scheduler ran something another process added."""
    RUNS.append(label)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:////tmp/x/tidegate.db", "sqlite:////tmp/x/tidegate.db"),
        ("postgresql+asyncpg://u:p@db:5432/t", "postgresql+psycopg://u:p@db:5432/t"),
        ("postgresql+psycopg://u@db/t", "postgresql+psycopg://u@db/t"),
    ],
)
def test_sync_url(url: str, expected: str) -> None:
    assert sync_url(url) == expected


@pytest.fixture
async def db_settings(settings: Settings, database_url: str, tmp_path: Path) -> Settings:
    await upgrade_async(database_url)
    return settings.model_copy(update={"database_url": database_url, "data_dir": tmp_path})


async def test_add_list_remove(db_settings: Settings) -> None:
    added = await asyncio.to_thread(add_drill, db_settings, "in-fa", "0 9 * * 1", seed=4)
    other = await asyncio.to_thread(add_drill, db_settings, "bebinca", "30 8 1 * *", speed=60)
    listed = await asyncio.to_thread(list_drills, db_settings)
    assert {j.id for j in listed} == {added.id, other.id}
    assert [j.next_run for j in listed] == sorted(j.next_run for j in listed if j.next_run)
    by_id = {j.id: j for j in listed}
    monday = by_id[added.id]
    assert monday.storm == "in-fa" and monday.next_run is not None
    assert monday.next_run.weekday() == 0 and monday.next_run.hour == 9
    assert "drill run in-fa --fast --seed 4" in monday.command
    assert "--speed 60" in by_id[other.id].command
    assert await asyncio.to_thread(remove_drill, db_settings, added.id)
    assert not await asyncio.to_thread(remove_drill, db_settings, added.id)
    assert [j.id for j in await asyncio.to_thread(list_drills, db_settings)] == [other.id]


def test_an_invalid_cron_is_refused(db_settings: Settings) -> None:
    with pytest.raises(ValueError):
        add_drill(db_settings, "in-fa", "every monday")


async def test_the_worker_scheduler_runs_jobs_added_by_another_process(
    db_settings: Settings,
) -> None:
    RUNS.clear()

    def add_from_elsewhere() -> None:
        with schedule._editing(db_settings) as editing:
            editing.add_job(
                "tests.drills.test_schedule:mark",
                "date",
                run_date=datetime.now(UTC) + timedelta(seconds=1),
                kwargs={"label": "ran"},
                id="drill-test",
            )

    async with DrillScheduler(db_settings, poll_seconds=0.2):
        await asyncio.to_thread(add_from_elsewhere)
        for _ in range(600):  # waits on the condition, up to a minute on a busy machine
            if RUNS:
                break
            await asyncio.sleep(0.1)
    assert RUNS == ["ran"]


async def test_schedule_cli(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDEGATE_DATABASE_URL", db_settings.database_url)
    monkeypatch.delenv("TIDEGATE_TOKEN", raising=False)
    trainer = await token_of(db_settings, Role.TRAINER, name="trainer-li")
    observer = await token_of(db_settings, Role.OBSERVER)

    def invoke(*args: str, token: str | None = trainer) -> Result:
        env = {"TIDEGATE_TOKEN": token} if token else {}
        return CliRunner().invoke(app, ["drill", "schedule", *args], env=env)

    async def cli(*args: str, token: str | None = trainer) -> Result:
        # The CLI runs its own event loop: in a thread of its own, as from a terminal.
        return await asyncio.to_thread(invoke, *args, token=token)

    added = await cli("lekima", "--cron", "0 9 * * 1")
    assert added.exit_code == 0, added.output
    job_id = added.stdout.split()[1].rstrip(":")
    listed = await cli("--list", token=None)  # reading needs no token
    assert job_id in listed.stdout and "drill run lekima --fast" in listed.stdout
    assert "(by trainer-li)" in listed.stdout
    refused = await cli("lekima", "--cron", "0 9 * * 2", token=observer)
    assert refused.exit_code == ExitCode.FORBIDDEN and "may not drill.run" in refused.output
    assert (await cli("--remove", job_id, token=None)).exit_code == ExitCode.FORBIDDEN
    assert (await cli("--remove", job_id)).exit_code == 0
    assert (await cli("--remove", job_id)).exit_code == 1
    assert "No scheduled drills." in (await cli("--list")).stdout
    bad = await cli("katrina", "--cron", "0 9 * * 1")
    assert bad.exit_code == 1 and "nothing matches" in bad.output
    assert (await cli("lekima")).exit_code == 2

    engine = create_engine(db_settings.db_url)
    try:
        rows = await entries(session_maker(engine))
    finally:
        await engine.dispose()
    trail = [(e.actor, e.action, e.target, e.outcome) for e in rows]
    mine = [row for row in trail if row[1].startswith(("drill.", "refused"))]
    assert mine == [
        ("trainer-li", "drill.scheduled", "2019-lekima", "ok"),
        (mine[1][0], "refused", "tidegate drill schedule", "refused"),
        ("trainer-li", "drill.unscheduled", job_id, "ok"),
    ]
    assert mine[1][0].startswith("observer-")
