"""Load a plan directory into a validated ``Plan``, or list what is wrong with it.

This is the only place in ``plans/`` that reads files. Load plans at the edges (CLI, intake,
an activity) and pass the ``Plan`` into workflows as input.
"""

from __future__ import annotations

from pathlib import Path

from plans.errors import PlanError, Problem, Severity
from plans.lint import lint
from plans.model import Plan
from plans.schema import PlanReader

DEFAULT_PLAN_PATH = Path(__file__).resolve().parent / "shanghai"
"""The bundled plan: Shanghai's flood and typhoon response."""


def _shown(path: Path) -> str:
    """Name a file relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_plan(path: str | Path | None = None) -> tuple[Plan | None, list[Problem]]:
    """Validate a plan directory and return the plan (if it has no errors) and every problem.

    Args:
        path: The plan directory; the bundled plan when ``None``.

    Returns:
        The plan, or ``None`` if any problem is an error; and the problems, by file and line.
    """
    root = Path(path) if path is not None else DEFAULT_PLAN_PATH
    if not root.is_dir():
        return None, [Problem(_shown(root), 0, "", "not a plan directory")]
    reader = PlanReader(root, _shown)
    reader.read_all()
    plan = reader.build()
    problems = list(reader.problems)
    if plan is not None:
        problems.extend(lint(plan, reader.origins))
    problems.sort(key=lambda p: (p.file, p.line, p.field))
    if any(p.severity is Severity.ERROR for p in problems):
        plan = None
    return plan, problems


def check_plan(path: str | Path | None = None) -> list[Problem]:
    """Validate a plan directory and report every problem found.

    Args:
        path: The plan directory; the bundled plan when ``None``.

    Returns:
        Problems sorted by file and line; the plan is usable when none is an error.
    """
    return read_plan(path)[1]


def load_plan(path: str | Path | None = None) -> Plan:
    """Load and validate a plan directory.

    Args:
        path: The plan directory; the bundled plan when ``None``.

    Returns:
        The plan, with its content hash.

    Raises:
        PlanError: The plan has errors; ``PlanError.problems`` lists them with file and line.
    """
    plan, problems = read_plan(path)
    if plan is None:
        raise PlanError(problems)
    return plan
