"""Tables on the terminal: ids are never cut.

On a terminal, cells fold long values (ids, names) onto further lines instead of ending them
with "…"; with ``--wide``, and whenever stdout is not a terminal (a pipe, a file, a script),
lines are never wrapped at all, so every id stays whole on its line.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

WIDE = 10_000
"""Console width for ``--wide`` and pipes: wide enough that no line is ever wrapped."""


def console(wide: bool = False) -> Console:
    """A console for tables: the terminal's width, or unlimited (``wide``, or not a terminal)."""
    return Console(width=WIDE if wide or not sys.stdout.isatty() else None)


def table(*headers: str, title: str | None = None) -> Table:
    """A table whose cells fold rather than being cut: no value ever ends in "…"."""
    made = Table(title=title, title_justify="left")
    for header in headers:
        made.add_column(header, overflow="fold")
    return made
