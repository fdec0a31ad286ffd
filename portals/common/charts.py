"""Small charts drawn on the server as inline SVG: no script, no front-end build, readable
by screen readers through the title and the data table the page prints next to them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class ChartPoint:
    label: str
    bar: Decimal
    line: Decimal


def _nice_ceiling(value: Decimal) -> Decimal:
    """A round number at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return Decimal(1)
    base = Decimal(10) ** value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5)):
        if value <= step * base:
            return step * base
    return Decimal(10) * base


def bar_line_chart(
    points: list[ChartPoint],
    *,
    title: str,
    bar_name: str,
    line_name: str,
    axis_format,
    width: int = 640,
    height: int = 240,
) -> SafeString:
    """Bars for one series and a line for the other, on one shared axis; bars alone when
    ``line_name`` is empty."""
    left, right, top, bottom = 56, 12, 16, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([p.bar for p in points] + [p.line for p in points] + [Decimal(0)])
    ceiling = _nice_ceiling(peak)
    slot = plot_w / max(len(points), 1)
    # Labels that would overlap are thinned out, counting back from the latest point.
    label_width = max((len(p.label) for p in points), default=0) * 6.5 + 8
    every = max(1, math.ceil(label_width / slot))

    def y(value: Decimal) -> float:
        return top + plot_h - float(value / ceiling) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        value = ceiling * step / 4
        gy = y(value)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}" '
            'stroke="#e4e7ec" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5b6473">{escape(axis_format(value))}</text>'
        )
    line_points = []
    for index, point in enumerate(points):
        x = left + slot * index
        bar_h = plot_h - (y(point.bar) - top)
        parts.append(
            f'<rect x="{x + slot * 0.2:.1f}" y="{y(point.bar):.1f}" width="{slot * 0.6:.1f}" '
            f'height="{max(bar_h, 0):.1f}" fill="var(--brand, #2f5d8a)" opacity="0.75">'
            f"<title>{escape(point.label)}: {escape(axis_format(point.bar))}</title></rect>"
        )
        if (len(points) - 1 - index) % every == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="11" fill="#5b6473">{escape(point.label)}</text>'
            )
        line_points.append(f"{x + slot / 2:.1f},{y(point.line):.1f}")
    if line_points and line_name:
        parts.append(
            f'<polyline points="{" ".join(line_points)}" fill="none" stroke="#f79009" '
            'stroke-width="2.5"/>'
        )
        for coords in line_points:
            cx, cy = coords.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="#f79009"/>')
    legend_y = top - 4
    parts.append(
        f'<rect x="{left}" y="{legend_y - 8}" width="10" height="10" '
        'fill="var(--brand, #2f5d8a)" opacity="0.75"/>'
        f'<text x="{left + 14}" y="{legend_y + 1}" font-size="11">{escape(bar_name)}</text>'
    )
    if line_name:
        parts.append(
            f'<line x1="{left + 120}" x2="{left + 134}" y1="{legend_y - 3}" '
            f'y2="{legend_y - 3}" stroke="#f79009" stroke-width="2.5"/>'
            f'<text x="{left + 138}" y="{legend_y + 1}" font-size="11">{escape(line_name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text above is escaped)
