"""Problems found in a plan, and the error raised when a plan cannot be loaded.

Exception tree::

    ValueError
    ├── PlanError          a plan failed validation; carries every problem found
    ├── UnknownAreaError   a warning names an area the plan does not know
    ├── UnknownNameError   a name or code the plan's catalogue cannot read
    └── RenderError        a template failed to render
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a problem is: errors stop a plan from loading, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan, located in its YAML files."""

    file: str
    """Path of the YAML file, as the loader was given it."""
    line: int
    """1-based line number; 0 when the problem concerns the file or the plan as a whole."""
    field: str
    """Dotted path of the offending field, e.g. ``actions.IV[0].deadline_minutes``."""
    message: str
    """What is wrong, in one sentence."""
    severity: Severity = Severity.ERROR
    """Error or warning."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}: {self.severity}:{field} {self.message}"


class PlanError(ValueError):
    """A plan failed validation. ``problems`` lists every error (and warning) found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity is Severity.ERROR]
        shown = "\n".join(str(p) for p in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"invalid plan: {len(errors)} error(s)\n{shown}{more}")


class UnknownAreaError(ValueError):
    """A warning names an area id that is neither ``citywide`` nor a district of the plan."""


class UnknownNameError(ValueError):
    """A name (or GB/T 2260 code) that the plan's catalogue cannot read; the message names it."""


class RenderError(ValueError):
    """A template failed to render (unknown variable, bad syntax, or unsafe operation)."""
