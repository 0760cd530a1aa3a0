"""Exceptions raised by the embedded dev stack.

Every failure that a developer can fix by themselves (a missing tool, a busy port, a version
Maven cannot resolve) is a :class:`DevstackError` whose message is one line saying what to do;
``python -m devstack`` prints exactly that line and exits with status 2, no traceback.

::

    DevstackError
    ├── ToolMissingError     java / mvn / temporal / PostgreSQL binaries absent or too old
    ├── PortInUseError       a port a service needs is already bound
    ├── FetchError           Maven could not resolve the Kafka jars
    └── ServiceStartError    a service process died or never became ready
"""

from __future__ import annotations


class DevstackError(Exception):
    """A dev-stack problem with a one-line, actionable message."""


class ToolMissingError(DevstackError):
    """A required executable is not installed (or is too old)."""


class PortInUseError(DevstackError):
    """A port that a service must listen on is already taken."""


class FetchError(DevstackError):
    """Resolving the Kafka jars from Maven Central failed."""


class ServiceStartError(DevstackError):
    """A service process exited early or did not become ready in time."""
