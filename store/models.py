"""SQLAlchemy models. The schema itself is owned by the Alembic migrations in ``migrations/``.

Every table that activities write has a natural key derived from workflow input (response id,
task id, event key), so a retried activity finds its row instead of adding a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import UTCDateTime


class Base(DeclarativeBase):
    """Declarative base with timezone-aware datetimes and portable JSON.

    Every ``Mapped[datetime]`` column is a :class:`~store.types.UTCDateTime`: stored as UTC,
    read back timezone-aware (UTC) on SQLite as on PostgreSQL.
    """

    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class PlanRecord(Base):
    """A plan version some response ran, stored whole so its templates outlive YAML edits."""

    __tablename__ = "plans"

    content_hash: Mapped[str] = mapped_column(String(100), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    """The plan as Temporal's JSON payload encoding, decoded with the same converter."""
    recorded_at: Mapped[datetime]


class ResponseRecord(Base):
    """One response workflow: a region's (or a drill's) reaction to its warnings."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    region: Mapped[str] = mapped_column(String(100))
    drill: Mapped[bool]
    plan_id: Mapped[str] = mapped_column(String(100))
    plan_version: Mapped[str] = mapped_column(String(50))
    plan_hash: Mapped[str] = mapped_column(String(100))
    levels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Area id to response level (``IV`` .. ``I``); areas without a response are absent."""
    status: Mapped[str] = mapped_column(String(20), default="active")
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WarningRecord(Base):
    """A warning as received, with the decision intake took on it."""

    __tablename__ = "warnings"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    response_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    hazard: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    areas: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(20))
    sent: Mapped[datetime]
    recorded_at: Mapped[datetime]
    headline: Mapped[str] = mapped_column(Text, default="")


class TaskRecord(Base):
    """One dispatch of a plan task in one response; ``id`` from ``plans.lifecycle.task_key``."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    response_id: Mapped[str] = mapped_column(String(200), index=True)
    plan_task_id: Mapped[str] = mapped_column(String(200))
    action_id: Mapped[str] = mapped_column(String(100))
    agency: Mapped[str] = mapped_column(String(50), index=True)
    area: Mapped[str] = mapped_column(String(50))
    asset: Mapped[str | None] = mapped_column(String(100))
    hazard: Mapped[str] = mapped_column(String(20))
    response_level: Mapped[str] = mapped_column(String(5))
    state: Mapped[str] = mapped_column(String(20))
    drill: Mapped[bool]
    plan_version: Mapped[str] = mapped_column(String(50))
    issued_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    dispatch: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """1 for a plan task's first dispatch in the response, 2 for the next, ..."""
    tracking: Mapped[str | None] = mapped_column(Text, default=None)
    """The task workflow's input, encoded by the data converter (``workflows.tracking``)."""


class TaskEventRecord(Base):
    """A transition of a task (dispatched, acknowledged, completed, escalated, stood down...)."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    """Idempotency key: task id plus the transition's sequence number in the task workflow."""
    task_id: Mapped[str] = mapped_column(String(300), ForeignKey("tasks.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


class EscalationRecord(Base):
    """An escalation notice sent because a task went unacknowledged (三单联动)."""

    __tablename__ = "escalations"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    """Task id plus the step index: one row per step, however often the activity retries."""
    task_id: Mapped[str] = mapped_column(String(300), ForeignKey("tasks.id"), index=True)
    response_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    to: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


class AuditRecord(Base):
    """Append-only log of everything a response did, for the after-action review."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    response_id: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


class RejectionRecord(Base):
    """Input that intake refused, kept with the reason so nothing is silently lost."""

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(300))
    """``http``, ``cli``, or ``kafka:<topic>`` (Kafka topic names run to 249 characters)."""
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


SCHEDULED_JOBS = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
"""Scheduled drills (``drills/schedule.py``): APScheduler's ``SQLAlchemyJobStore`` reads and
writes this table with exactly these columns; it is declared here so that the schema, and
Alembic's autogenerate, know it (migration 0003)."""


class AccountRecord(Base):
    """A person or a service account (``access.matrix.Role``); never deleted, only disabled."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    agency: Mapped[str | None] = mapped_column(String(50), default=None)
    district: Mapped[str | None] = mapped_column(String(50), default=None)
    password_hash: Mapped[str | None] = mapped_column(Text, default=None)
    """Argon2id hash (PHC string); ``None`` for service accounts and OIDC-only people."""
    oidc_subject: Mapped[str | None] = mapped_column(String(400), unique=True, default=None)
    """``issuer|sub`` of the identity provider's account linked at first OIDC login."""
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive failed password logins; reset by a successful one."""
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiTokenRecord(Base):
    """An API token: only its SHA-256 is kept; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    """The token's public id, also its prefix (``tg_<id>_<secret>``): listed, revoked by it."""
    account_id: Mapped[int] = mapped_column(Integer, ForeignKey("accounts.id"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any] | None] = mapped_column(default=None)
    """Permission names the token is narrowed to; ``None``: all of its account's role."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginSessionRecord(Base):
    """A console login: the cookie holds a random id, the row only its SHA-256."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, ForeignKey("accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    """Sent back with every form; not a credential on its own (the cookie is)."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    source: Mapped[str] = mapped_column(String(100), default="")


class AuditEntryRecord(Base):
    """Who did what, when and from where: append-only (the database refuses UPDATE/DELETE)."""

    __tablename__ = "audit_trail"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    """Account name, ``dev-token``, ``local:<os user>`` or a system (``kafka:<topic>``)."""
    role: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(50))
    """``warning.received``, ``task.answered``, ``login``, ``token.created``, ``refused`` ..."""
    target: Mapped[str] = mapped_column(String(400), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    """``ok``, ``refused`` (not allowed) or ``failed`` (allowed, but it did not happen)."""
    source: Mapped[str] = mapped_column(String(200), default="")
    """Where from: ``http 10.0.0.7``, ``cli root@host``, ``kafka:tidegate.alerts``."""
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedup_key: Mapped[str | None] = mapped_column(
        String(200), default=None, index=True, unique=True
    )
    """Set for an action that may be seen twice (a Kafka record read again after a crash:
    ``kafka:<topic>:<partition>:<offset>``): the second write of the same key adds nothing."""
