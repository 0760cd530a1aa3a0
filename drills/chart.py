"""The after-action timeline chart: warnings and response levels per area over storm time, SVG.

One row per area: ``citywide`` first, then the districts whose picture (levels, warnings,
headquarters levels) differs from the city's; districts with the same picture share a row.
Each row has four thin strips for the warnings in force (wind, rainstorm, tide, flood, in their
colours), a band for tidegate's response level and, below it, the headquarters' historical
level where the timeline records one. Landfalls are dashed vertical lines. Hand-written SVG:
no plotting dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from drills.results import NONE, DrillResult
from plans.model import CITYWIDE

COLOURS = {"blue": "#2f6fde", "yellow": "#f2c600", "orange": "#f28c00", "red": "#d7263d"}
LEVEL_COLOURS = {"IV": COLOURS["blue"], "III": COLOURS["yellow"], "II": COLOURS["orange"]}
LEVEL_COLOURS["I"] = COLOURS["red"]
HAZARDS = ("wind", "rainstorm", "tide", "flood")

Scale = Callable[[datetime], float]

WIDTH = 1100
LEFT = 170
RIGHT = 20
TOP = 40
ROW = 44
STRIP = 3


def chart_rows(result: DrillResult) -> list[tuple[str, str]]:
    """(label, area) per row: ``citywide``, then districts whose picture differs from the
    city's, districts with identical pictures sharing one row."""

    def picture(area: str) -> tuple[object, ...]:
        return (
            tuple((c.at, c.level) for c in result.levels if c.area == area),
            tuple(tuple(sorted(w.in_force.get(area, {}).items())) for w in result.warnings),
            tuple((h.at, h.level) for h in result.historical if h.area == area),
        )

    city = picture(CITYWIDE)
    groups: dict[tuple[object, ...], list[str]] = {}
    for area in result.areas:
        if area != CITYWIDE and picture(area) != city:
            groups.setdefault(picture(area), []).append(area)
    rows = [(CITYWIDE, CITYWIDE)]
    for areas in groups.values():
        label = ", ".join(areas[:2]) + (f" +{len(areas) - 2}" if len(areas) > 2 else "")
        rows.append((label, areas[0]))
    return rows


def timeline_svg(result: DrillResult) -> str:
    """The chart as a standalone SVG document."""
    rows = chart_rows(result)
    start = result.storm_start - timedelta(hours=1)
    end = max(result.drill_end, result.storm_end + timedelta(hours=1))
    span = (end - start).total_seconds() or 1.0
    plot = WIDTH - LEFT - RIGHT
    height = TOP + ROW * len(rows) + 70

    def x(moment: datetime) -> float:
        return LEFT + plot * max(0.0, min(1.0, (moment - start).total_seconds() / span))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(result.name)}: warnings and response levels</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">'
        f"{escape(result.name)} {escape(result.name_zh)}: warnings and response levels "
        f"(drill {escape(result.run_id)})</text>",
    ]
    parts += _axis(start, end, x, height)
    for index, (label, area) in enumerate(rows):
        parts += _row(result, label, area, TOP + index * ROW, x, end)
    parts += _landfalls(result, x, height)
    parts += _legend(height)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _axis(start: datetime, end: datetime, x: Scale, height: int) -> list[str]:
    hours = (end - start).total_seconds() / 3600
    step = next(h for h in (1, 3, 6, 12, 24, 48) if hours / h <= 14)
    tick = start.replace(minute=0, second=0, microsecond=0)
    tick += timedelta(hours=(step - tick.hour % step) % step or step)
    out = []
    while tick <= end:
        px = x(tick)
        out.append(
            f'<line x1="{px:.1f}" y1="{TOP - 6}" x2="{px:.1f}" y2="{height - 60}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        label = (
            tick.strftime("%d %b %H:%M") if tick.hour == 0 or step >= 24 else tick.strftime("%H:%M")
        )
        out.append(f'<text x="{px:.1f}" y="{TOP - 10}" text-anchor="middle">{label}</text>')
        tick += timedelta(hours=step)
    return out


def _row(
    result: DrillResult, label: str, area: str, top: int, x: Scale, end: datetime
) -> list[str]:
    out = [f'<text x="{LEFT - 8}" y="{top + 20}" text-anchor="end">{escape(label)}</text>']
    for index, hazard in enumerate(HAZARDS):
        y = top + index * STRIP
        spans = _warning_spans(result, area, hazard, end)
        for begin, finish, colour in spans:
            out.append(_rect(x(begin), y, x(finish) - x(begin), STRIP - 0.5, COLOURS[colour]))
    band_top = top + 4 * STRIP + 2
    for begin, finish, level in _spans(
        [(c.at, c.level) for c in result.levels if c.area == area], end
    ):
        if level == NONE:
            continue
        width = x(finish) - x(begin)
        out.append(_rect(x(begin), band_top, width, 14, LEVEL_COLOURS[level]))
        if width > 18:
            out.append(
                f'<text x="{x(begin) + 3:.1f}" y="{band_top + 11}" fill="black">{level}</text>'
            )
    hq_top = band_top + 17
    history = [(h.at, h.level or NONE) for h in result.historical if h.area == area]
    for begin, finish, level in _spans(history, end):
        if level == NONE:
            continue
        width = x(finish) - x(begin)
        out.append(
            f'<rect x="{x(begin):.1f}" y="{hq_top}" width="{width:.1f}" height="7" '
            f'fill="{LEVEL_COLOURS[level]}" fill-opacity="0.45" stroke="#333" stroke-width="0.6"/>'
        )
        if width > 18:
            out.append(
                f'<text x="{x(begin) + 3:.1f}" y="{hq_top + 7}" font-size="8">HQ {level}</text>'
            )
    out.append(
        f'<line x1="{LEFT}" y1="{top + ROW - 4}" x2="{WIDTH - RIGHT}" y2="{top + ROW - 4}" '
        'stroke="#eee"/>'
    )
    return out


def _warning_spans(
    result: DrillResult, area: str, hazard: str, end: datetime
) -> list[tuple[datetime, datetime, str]]:
    changes = [(w.at, w.in_force.get(area, {}).get(hazard, NONE)) for w in result.warnings]
    return [s for s in _spans(changes, end) if s[2] != NONE]


def _spans(
    changes: Sequence[tuple[datetime, str]], end: datetime
) -> list[tuple[datetime, datetime, str]]:
    """Turn (time, value) changes into (begin, end, value) stretches."""
    out: list[tuple[datetime, datetime, str]] = []
    for index, (at, value) in enumerate(changes):
        finish = changes[index + 1][0] if index + 1 < len(changes) else end
        if finish > at:
            out.append((at, finish, value))
    return out


def _landfalls(result: DrillResult, x: Scale, height: int) -> list[str]:
    out = []
    for event in result.events:
        if event["kind"] != "landfall" or event["at"] is None:
            continue
        px = x(event["at"])
        out.append(
            f'<line x1="{px:.1f}" y1="{TOP - 4}" x2="{px:.1f}" y2="{height - 60}" '
            'stroke="#555" stroke-dasharray="4 3"/>'
        )
        label = escape(f"landfall {event['areas']}")
        out.append(
            f'<text x="{px + 3:.1f}" y="{height - 62}" font-size="9" fill="#555">{label}</text>'
        )
    return out


def _legend(height: int) -> list[str]:
    y = height - 40
    out = [f'<text x="{LEFT}" y="{y}">Warnings (thin strips, top to bottom):</text>']
    out.append(f'<text x="{LEFT + 210}" y="{y}">{" / ".join(HAZARDS)}</text>')
    px = LEFT + 420
    for name, colour in COLOURS.items():
        out.append(_rect(px, y - 9, 12, 10, colour))
        out.append(f'<text x="{px + 16}" y="{y}">{name}</text>')
        px += 70
    y += 18
    out.append(
        f'<text x="{LEFT}" y="{y}">Response level: tidegate (band), '
        "headquarters (outlined, below):</text>"
    )
    px = LEFT + 420
    for level, colour in LEVEL_COLOURS.items():
        out.append(_rect(px, y - 9, 12, 10, colour))
        out.append(f'<text x="{px + 16}" y="{y}">{level}</text>')
        px += 70
    return out


def _rect(x: float, y: float, width: float, height: float, colour: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.5):.1f}" height="{height:.1f}" '
        f'fill="{colour}"/>'
    )
