"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant: written as UTC, read back as UTC, on every database.

    PostgreSQL's ``timestamptz`` keeps the instant, but SQLite has no time zones: SQLAlchemy
    writes a datetime's wall-clock digits and drops its offset, so ``13:05+08:00`` came back as
    ``13:05`` (read as UTC: eight hours off). Converting to UTC before writing makes the stored
    digits UTC everywhere; reading attaches UTC where the driver gives none. Because the stored
    digits are all UTC, comparisons and ``ORDER BY`` on SQLite (text) are chronological too.
    Parameters compared with such a column pass through here as well, whatever their offset.

    A naive datetime is refused rather than guessed at.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; refuse a naive datetime."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: tidegate stores instants only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """Attach UTC where the database kept none (SQLite); normalise to UTC otherwise."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
