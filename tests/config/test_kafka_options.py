"""How every Kafka client connects (``config.kafka.client_options``) and the settings behind it."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.errors import ConfigError
from config.kafka import client_options, credentials_path, describe, read_credentials
from config.settings import load_settings


def credentials(data_dir: Path, users: dict[str, str]) -> None:
    path = data_dir / "kafka" / "credentials.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"users": users}))


def test_by_default_tidegate_logs_in_with_scram_and_the_embedded_brokers_password(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path)
    credentials(tmp_path, {"tidegate": "from-the-file", "agency-grid": "grid-pw"})
    assert client_options(settings) == {
        "bootstrap_servers": "127.0.0.1:19092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "tidegate",
        "sasl_plain_password": "from-the-file",
    }
    as_grid = client_options(settings, username="agency-grid")
    assert (as_grid["sasl_plain_username"], as_grid["sasl_plain_password"]) == (
        "agency-grid",
        "grid-pw",
    )
    assert describe(settings) == "127.0.0.1:19092 as tidegate (SASL_PLAINTEXT/SCRAM-SHA-512)"


def test_the_password_setting_wins_for_tidegates_own_user(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, kafka_sasl_password=SecretStr("configured"))
    credentials(tmp_path, {"tidegate": "from-the-file"})
    assert client_options(settings)["sasl_plain_password"] == "configured"
    assert client_options(settings, password="given")["sasl_plain_password"] == "given"


def test_no_password_anywhere_is_a_config_error_saying_what_to_set(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(ConfigError, match="TIDEGATE_KAFKA_SASL_PASSWORD") as raised:
        client_options(settings)
    assert "TIDEGATE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in str(raised.value)


def test_a_broken_credentials_file_is_a_config_error(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    path = credentials_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text('{"users": ["tidegate"]}')
    with pytest.raises(ConfigError, match="not a tidegate Kafka credentials file"):
        client_options(settings)
    assert read_credentials(tmp_path / "absent.json") == {}


def test_plaintext_is_for_a_cluster_that_authenticates_nobody(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, kafka_security_protocol="PLAINTEXT")
    assert client_options(settings) == {
        "bootstrap_servers": "127.0.0.1:19092",
        "security_protocol": "PLAINTEXT",
    }
    assert "no authentication" in describe(settings)


def test_sasl_ssl_checks_the_brokers_certificates(tmp_path: Path) -> None:
    settings = load_settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="tidegate-prod",
        kafka_sasl_password=SecretStr("secret"),
    )
    options = client_options(settings)
    assert options["sasl_mechanism"] == "PLAIN"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"kafka_sasl_mechanism": "PLAIN"}, "PLAIN sends the password in clear"),
        ({"kafka_sasl_username": ""}, "TIDEGATE_KAFKA_SASL_USERNAME must name the Kafka user"),
        ({"kafka_security_protocol": "SSL"}, "TIDEGATE_KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "TIDEGATE_KAFKA_SASL_MECHANISM"),
        ({"kafka_ssl_cafile": "/no/such/ca.pem"}, "TIDEGATE_KAFKA_SSL_CAFILE: no such file"),
    ],
)
def test_kafka_security_settings_are_checked_at_start_up(
    overrides: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(**overrides)


def test_the_password_never_shows_in_the_settings_repr() -> None:
    settings = load_settings(kafka_sasl_password=SecretStr("hunter2"))
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
