"""The one typed settings object: every address, port, path and topic name tidegate uses.

Values come from ``TIDEGATE_*`` environment variables (or a ``.env`` file) and are validated
once at start-up; the composition roots (``worker.py``, the CLI, ``make run``) load them and pass
them on explicitly. Nothing reads the environment anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or install) root; relative default paths are resolved against it."""

DEFAULT_DATA_DIR = ROOT / ".tidegate"


class Settings(BaseSettings):
    """Validated configuration. Construct it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="TIDEGATE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = DEFAULT_DATA_DIR
    """Where the embedded services keep their state (Temporal and SQLite files, Kafka logs)."""

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    task_queue: str = "tidegate"
    sticky_timeout_seconds: float = Field(default=3.0, gt=0.0, le=60.0)
    """How long a workflow's next step waits for the worker that ran its last one before any
    worker may take it. After a worker dies (SIGKILL, lost host) each of its workflows pays this
    once, on its next timer or signal: at the SDK's default of 10 s, escalations due after a
    crash fired 10 s late. Lower is more punctual after crashes; higher replays less history
    on a busy worker."""

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_controller_port: int = Field(default=19093, ge=1, le=65535)
    kafka_version: str = "4.1.1"
    kafka_cache_dir: Path = ROOT / ".cache" / "kafka"
    topic_prefix: str = "tidegate"
    drill_topic_prefix: str = "tidegate.drill"
    topic_partitions: int = Field(default=3, ge=1, le=64)
    consumer_group: str = "tidegate"
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL", "PLAINTEXT"] = "SASL_PLAINTEXT"
    """How clients authenticate (``docs/kafka-security.md``): ``SASL_PLAINTEXT`` as the embedded
    broker wants it, ``SASL_SSL`` across a network, ``PLAINTEXT`` only for a cluster of your
    own that authenticates nobody."""
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = "tidegate"
    """tidegate's own principal (``User:tidegate``); the embedded broker makes it a super user."""
    kafka_sasl_password: SecretStr = SecretStr("")
    """Empty: the embedded broker's password for the user, from ``data_dir/kafka/credentials.json``
    (generated on its first start)."""
    kafka_ssl_cafile: Path | None = None
    """CA certificates to check the brokers against (``SASL_SSL``); default: the system's."""

    # Database
    database_url: str = ""
    """SQLAlchemy async URL; empty means an SQLite file in ``data_dir``."""

    # Plans and intake
    region: str = "shanghai"
    """Name of the region this deployment serves; the live response workflow is keyed by it."""
    plan_path: Path = ROOT / "plans" / "shanghai"
    max_alert_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    decision_wait_seconds: float = Field(default=5.0, ge=0.0, le=60.0)
    """How long intake (CLI, HTTP, Kafka) waits for the response's decision on a warning before
    it answers "queued, decision pending"; the warning is durable either way."""

    # HTTP API
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    api_token: str = "dev-duty-officer-token"
    http_read_timeout_seconds: float = Field(default=30.0, gt=0.0, le=600.0)
    """How long a request body may take to arrive; a stalled one gets 408 and is closed."""

    # Access control (docs/access.md)
    session_hours: float = Field(default=12.0, gt=0.0, le=24.0 * 30)
    """How long a console login lasts."""
    cookie_secure: bool | None = None
    """Mark cookies ``Secure``; unset: when the request came over https (set it behind a
    TLS-terminating proxy that does not say so)."""
    login_rate_per_minute: int = Field(default=10, ge=1, le=10_000)
    """Login attempts per client address and per account name."""
    intake_rate_per_minute: int = Field(default=120, ge=1, le=100_000)
    """``POST /alerts`` per principal (a feed bursting more gets 429)."""
    oidc_issuer: str = ""
    """OpenID Connect provider (its ``/.well-known/openid-configuration``); empty: no OIDC."""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_username_claim: str = "preferred_username"
    """The ID token claim naming the tidegate account at the first OIDC login."""
    public_url: str = ""
    """How browsers reach ``tidegate serve`` (e.g. ``https://tidegate.example``), for the
    OIDC redirect; empty: the request's own address."""

    @field_validator("kafka_bootstrap", "temporal_address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        for part in value.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {value!r}")
        return value

    @field_validator("topic_prefix", "drill_topic_prefix")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not value or not set(value) <= allowed:
            raise ValueError(f"topic prefix may only use letters, digits, '.', '_', '-': {value!r}")
        return value

    @model_validator(mode="after")
    def _kafka_security(self) -> Self:
        if self.kafka_security_protocol == "PLAINTEXT":
            return self
        name = self.kafka_sasl_username
        if not name or not name.isprintable() or name != name.strip():
            raise ValueError(f"TIDEGATE_KAFKA_SASL_USERNAME must name the Kafka user, got {name!r}")
        if self.kafka_sasl_mechanism == "PLAIN" and self.kafka_security_protocol != "SASL_SSL":
            raise ValueError(
                "TIDEGATE_KAFKA_SASL_MECHANISM=PLAIN sends the password in clear: use it with "
                "TIDEGATE_KAFKA_SECURITY_PROTOCOL=SASL_SSL, or use SCRAM-SHA-512"
            )
        if self.kafka_ssl_cafile is not None and not self.kafka_ssl_cafile.is_file():
            raise ValueError(f"TIDEGATE_KAFKA_SSL_CAFILE: no such file {self.kafka_ssl_cafile}")
        return self

    @property
    def db_url(self) -> str:
        """The effective database URL (the SQLite default lives in ``data_dir``)."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'tidegate.db'}"

    @property
    def kafka_port(self) -> int:
        """Port of the first bootstrap server (the embedded broker listens there)."""
        return int(self.kafka_bootstrap.split(",")[0].rpartition(":")[2])

    @property
    def temporal_port(self) -> int:
        """Front-end port of the Temporal address (the embedded dev server listens there)."""
        return int(self.temporal_address.rpartition(":")[2])

    def topic(self, name: str, *, drill: bool = False) -> str:
        """Full topic name, e.g. ``topic("tasks.drainage")`` -> ``tidegate.tasks.drainage``."""
        return f"{self.drill_topic_prefix if drill else self.topic_prefix}.{name}"


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"TIDEGATE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            if err["loc"]
            else err["msg"].removeprefix("Value error, ")  # a check across fields names them
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
