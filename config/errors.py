"""Errors raised for bad configuration; entry points print them as one line and exit 2."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration is invalid or a required external tool or service is missing."""
