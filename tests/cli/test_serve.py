"""``tidegate serve``'s start-up checks: the token, and where the development token may serve."""

from __future__ import annotations

import pytest

from cli.serve import DEV_TOKEN, check_token, is_loopback
from config.errors import ConfigError
from config.settings import load_settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("tidegate.example", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_development_token_serves_on_loopback_only() -> None:
    check_token(load_settings(http_host="127.0.0.1", api_token=DEV_TOKEN))
    check_token(load_settings(http_host="0.0.0.0", api_token="a-real-secret"))
    with pytest.raises(ConfigError, match="TIDEGATE_API_TOKEN"):
        check_token(load_settings(http_host="0.0.0.0", api_token=DEV_TOKEN))


def test_an_empty_token_means_accounts_tokens_only() -> None:
    check_token(load_settings(http_host="0.0.0.0", api_token=""))
    check_token(load_settings(http_host="127.0.0.1", api_token=" "))
