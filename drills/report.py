"""The after-action report: HTML and Markdown from Jinja2 templates, the SVG chart, the JSON.

``write_report(result, directory)`` writes ``report.html`` (chart inline), ``report.md`` (chart
linked), ``timeline.svg`` and ``drill.json`` (the ``--json`` object). Rendering is a pure
function of a :class:`~drills.results.DrillResult`, so reports can be rendered again, or from
synthetic data in tests. Templates live in ``drills/templates``; an unknown variable is an
error, never blank text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from drills.chart import timeline_svg
from drills.results import NONE, TOLERANCE_MINUTES, DrillResult, LevelChange
from plans.model import CITYWIDE, ResponseLevel

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHART_NAME = "timeline.svg"


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    html: Path
    markdown: Path
    chart: Path
    data: Path


def environment() -> Environment:
    """Templates from ``drills/templates``; HTML autoescaped, undefined names are errors."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["t"] = _time
    env.filters["num"] = _number
    env.filters["cell"] = _cell
    return env


def render_markdown(result: DrillResult, chart: str = CHART_NAME) -> str:
    """The report in Markdown, linking the chart file ``chart``."""
    return environment().get_template("report.md.j2").render(_context(result) | {"chart": chart})


def render_html(result: DrillResult) -> str:
    """The report as one HTML page with the chart inline."""
    svg = timeline_svg(result)
    return environment().get_template("report.html.j2").render(_context(result) | {"svg": svg})


def write_report(result: DrillResult, directory: Path) -> ReportFiles:
    """Write the report files into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        html=directory / "report.html",
        markdown=directory / "report.md",
        chart=directory / CHART_NAME,
        data=directory / "drill.json",
    )
    files.chart.write_text(timeline_svg(result), encoding="utf-8")
    files.markdown.write_text(render_markdown(result), encoding="utf-8")
    files.html.write_text(render_html(result), encoding="utf-8")
    files.data.write_text(result.dumps() + "\n", encoding="utf-8")
    return files


def highest_level(result: DrillResult) -> str:
    """The highest level tidegate reached, where and when first (``none`` if no response)."""
    reached = [c for c in result.levels if c.level != NONE]
    if not reached:
        return NONE
    top = max(reached, key=lambda c: ResponseLevel(c.level).rank)
    first = min((c for c in reached if c.level == top.level), key=lambda c: c.at)
    areas = sorted({c.area for c in reached if c.level == top.level})
    shown = ", ".join(areas[:6]) + (f" and {len(areas) - 6} more" if len(areas) > 6 else "")
    return f"{top.level} ({shown}), first at {_time(first.at)}"


def level_rows(
    result: DrillResult, levels: Sequence[LevelChange] | None = None
) -> list[dict[str, object]]:
    """Level changes for reading: one row per change of the city, with the districts that
    differ from it, and one per district change on its own (``levels``: other changes than
    the result's own, e.g. the effective ones with the HQ's decisions)."""
    shown = result.levels if levels is None else levels
    rows: list[dict[str, object]] = []
    moments = sorted({c.at for c in shown})
    for moment in moments:
        changes = [c for c in shown if c.at == moment]
        city = next((c for c in changes if c.area == CITYWIDE), None)
        districts = [c for c in changes if c.area != CITYWIDE]
        if city is not None:
            odd = [c for c in districts if c.level != city.level]
            same = len(districts) - len(odd)
            note = f"{same} districts with it" if same else ""
            if odd:
                note += ("; " if note else "") + ", ".join(f"{c.area} {c.level}" for c in odd)
            rows.append({"at": moment, "area": CITYWIDE, "level": city.level, "note": note})
        else:
            for change in districts:
                rows.append({"at": moment, "area": change.area, "level": change.level, "note": ""})
    return rows


def _context(result: DrillResult) -> dict[str, object]:
    mode = "time-skipping (--fast)" if result.mode == "fast" else f"--speed {result.speed:g}"
    hq = result.with_hq
    return {
        "r": result,
        "mode": mode,
        "highest": highest_level(result),
        "level_rows": level_rows(result),
        "tolerance": TOLERANCE_MINUTES,
        "hq": hq,
        "hq_level_rows": level_rows(result, hq.levels) if hq is not None else [],
    }


def _time(moment: datetime | None) -> str:
    return "–" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value != int(value) else f"{int(value)}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
