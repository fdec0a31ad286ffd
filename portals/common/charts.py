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


@dataclass(frozen=True)
class ChartSeries:
    name: str
    values: list[Decimal]  # one per label; a negative value is drawn below the axis


# Distinct enough side by side, and readable on white; the brand colour comes first.
SERIES_COLOURS = ("var(--brand, #2f5d8a)", "#f79009", "#12b76a", "#7a5af8", "#f04438", "#667085")


def _short(label: str, limit: int = 12) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def stacked_bar_chart(
    labels: list[str],
    series: list[ChartSeries],
    *,
    title: str,
    axis_format,
    width: int = 480,
    height: int = 260,
) -> SafeString:
    """One bar per label, each series stacked on the last: positive values upwards from
    zero, negative ones downwards (a churn under the month's new revenue). Colours follow
    ``SERIES_COLOURS``, cycling after six series. The axis texts have the class ``tick``,
    for a page to enlarge them where the chart is drawn small (a phone)."""
    # The legend first: it wraps onto as many rows as it needs, and the plot starts below.
    legend, legend_x, legend_row = [], 8, 0
    for number, one in enumerate(series):
        name = _short(one.name, 24)
        item_width = 24 + int(len(name) * 7)
        if legend_x > 8 and legend_x + item_width > width:
            legend_x, legend_row = 8, legend_row + 1
        legend.append((legend_x, 8 + legend_row * 18, name, number))
        legend_x += item_width
    left, right, top, bottom = 64, 12, 34 + legend_row * 18, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    ups = [
        sum((s.values[i] for s in series if s.values[i] > 0), Decimal(0))
        for i in range(len(labels))
    ]
    downs = [
        sum((s.values[i] for s in series if s.values[i] < 0), Decimal(0))
        for i in range(len(labels))
    ]
    high = _nice_ceiling(max(ups, default=Decimal(0))) if any(ups) else Decimal(0)
    low = _nice_ceiling(-min(downs, default=Decimal(0))) if any(downs) else Decimal(0)
    if not high and not low:
        high = Decimal(1)
    # Grid lines at one step, a quarter of the larger side, so zero is always one of them.
    step = max(high, low) / 4
    upper = math.ceil(high / step) * step
    lower = -math.ceil(low / step) * step
    span = upper - lower
    slot = plot_w / max(len(labels), 1)
    shown = [_short(label) for label in labels]
    label_width = max((len(label) for label in shown), default=0) * 7 + 8
    every = max(1, math.ceil(label_width / slot))

    def y(value: Decimal) -> float:
        return top + float((upper - value) / span) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    value = lower
    while value <= upper:
        gy = y(value)
        colour = "#98a2b3" if value == 0 else "#e4e7ec"
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}" '
            f'stroke="{colour}" stroke-width="1"/>'
            f'<text class="tick" x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#5b6473">{escape(axis_format(value))}</text>'
        )
        value += step
    for index, label in enumerate(labels):
        x = left + slot * index
        above = below = Decimal(0)
        for number, one in enumerate(series):
            amount = one.values[index]
            if not amount:
                continue
            if amount > 0:
                y_top, y_bottom = y(above + amount), y(above)
                above += amount
            else:
                y_top, y_bottom = y(below), y(below + amount)
                below += amount
            colour = SERIES_COLOURS[number % len(SERIES_COLOURS)]
            parts.append(
                f'<rect x="{x + slot * 0.2:.1f}" y="{y_top:.1f}" width="{slot * 0.6:.1f}" '
                f'height="{max(y_bottom - y_top, 0):.1f}" fill="{colour}">'
                f"<title>{escape(label)} · {escape(one.name)}: "
                f"{escape(axis_format(amount))}</title></rect>"
            )
        if (len(labels) - 1 - index) % every == 0:
            parts.append(
                f'<text class="tick" x="{x + slot / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="12" fill="#5b6473">{escape(shown[index])}</text>'
            )
    for x, y_top, name, number in legend:
        colour = SERIES_COLOURS[number % len(SERIES_COLOURS)]
        parts.append(
            f'<rect x="{x}" y="{y_top}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y_top + 9}" font-size="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text above is escaped)
