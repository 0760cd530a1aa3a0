"""Engine and session factory, and the two idempotent write primitives every writer uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine; an SQLite file's folder is created so a fresh clone just works."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return create_async_engine(url, pool_pre_ping=True)


def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory; objects stay readable after commit because activities return them."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _insert(session: AsyncSession, table: Table) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {name!r}: use SQLite or PostgreSQL")


async def insert_ignore(
    session: AsyncSession, model: type[DeclarativeBase], values: Mapping[str, Any]
) -> bool:
    """Insert a row unless one with the same key exists. Returns whether a row was added."""
    table = model.__table__
    assert isinstance(table, Table)
    stmt = _insert(session, table).values(**values).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def insert_ignore_many(
    session: AsyncSession, model: type[DeclarativeBase], rows: Sequence[Mapping[str, Any]], key: str
) -> set[Any]:
    """Insert the rows whose ``key`` column is new; returns those keys.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING key`` executed for all rows at once:
    SQLAlchemy's "insertmanyvalues" sends them as a few multi-row statements from one cached
    compilation (a citywide red storm dispatches 500+ tasks; one round trip per row took
    ~250 ms, a freshly compiled 500-row VALUES clause ~90 ms, this ~12 ms on SQLite).
    """
    if not rows:
        return set()
    table = model.__table__
    assert isinstance(table, Table)
    stmt = _insert(session, table).on_conflict_do_nothing().returning(table.c[key])
    result = await session.execute(stmt, [dict(row) for row in rows])
    return set(result.scalars())
