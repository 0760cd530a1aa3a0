"""How every tidegate Kafka client connects, and as whom: one function, :func:`client_options`.

The producer, every consumer (the intakes, ``tidegate agency listen``, the drill desk), the admin
clients of :mod:`runtime.ops` and the tests all build their aiokafka client from
``**client_options(settings)``, so none of them can forget the security settings.

The password comes from ``TIDEGATE_KAFKA_SASL_PASSWORD``, else from the embedded broker's
credentials file (``data_dir/kafka/credentials.json``, mode 0600, written by
:mod:`devstack.kafka` on the broker's first start), so that ``make run`` and a second terminal
need no secret in the environment. A cluster of your own gets its password from the setting.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.errors import ConfigError

if TYPE_CHECKING:
    from config.settings import Settings

CREDENTIALS_FILE = "credentials.json"
"""``{"users": {name: password}}`` in the embedded broker's directory."""


def credentials_path(settings: Settings) -> Path:
    """Where the embedded broker keeps its users' passwords."""
    return settings.data_dir / "kafka" / CREDENTIALS_FILE


def read_credentials(path: Path) -> dict[str, str]:
    """The users and passwords in a credentials file (none if there is no file)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the Kafka credentials in {path}: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in users.items()
    ):
        raise ConfigError(f"{path} is not a tidegate Kafka credentials file")
    return users


def password_for(settings: Settings, username: str) -> str:
    """The password of ``username``: the setting (for tidegate's own user), else the embedded
    broker's credentials file.

    Raises:
        ConfigError: Neither has one, saying what to set.
    """
    if username == settings.kafka_sasl_username:
        configured = settings.kafka_sasl_password.get_secret_value()
        if configured:
            return configured
    path = credentials_path(settings)
    password = read_credentials(path).get(username)
    if password:
        return password
    raise ConfigError(
        f"no password for Kafka user {username!r}: set TIDEGATE_KAFKA_SASL_PASSWORD (the "
        f"embedded broker's {path} has none; `make run` writes it on the broker's first start), "
        "or TIDEGATE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT for a cluster without authentication"
    )


def client_options(
    settings: Settings, *, username: str | None = None, password: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin, client).

    Args:
        settings: Where the brokers are and how to authenticate.
        username: Connect as this user instead of ``TIDEGATE_KAFKA_SASL_USERNAME`` (an
            agency's principal, ``agency-<id>``); ignored with ``PLAINTEXT``.
        password: Its password; default: :func:`password_for`.

    Raises:
        ConfigError: A SASL protocol and no password for the user.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol == "PLAINTEXT":
        return options
    user = username or settings.kafka_sasl_username
    options |= {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": user,
        "sasl_plain_password": password or password_for(settings, user),
    }
    if settings.kafka_security_protocol == "SASL_SSL":
        cafile = settings.kafka_ssl_cafile
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(cafile) if cafile is not None else None
        )
    return options


def describe(settings: Settings) -> str:
    """``127.0.0.1:19092 as tidegate (SASL_PLAINTEXT/SCRAM-SHA-512)``, for messages."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return f"{settings.kafka_bootstrap} (PLAINTEXT, no authentication)"
    return (
        f"{settings.kafka_bootstrap} as {settings.kafka_sasl_username} "
        f"({settings.kafka_security_protocol}/{settings.kafka_sasl_mechanism})"
    )
