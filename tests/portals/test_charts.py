"""The stacked bar chart: positive values stack up from zero and negative ones down, the
axis has zero on a grid line, every text is escaped and the legend wraps."""

from __future__ import annotations

import re
from decimal import Decimal

from portals.common.charts import ChartSeries, stacked_bar_chart


def _rects(svg: str) -> list[tuple[float, float]]:
    """(y, height) of each bar, the legend's squares left out."""
    return [
        (float(y), float(h))
        for y, h in re.findall(
            r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="[^"]+"><title>',
            svg,
        )
    ]


def test_positive_values_stack_up_and_negative_ones_down():
    svg = stacked_bar_chart(
        ["Jan"],
        [
            ChartSeries("New", [Decimal(30)]),
            ChartSeries("Expansion", [Decimal(10)]),
            ChartSeries("Churned", [Decimal(-20)]),
        ],
        title="MRR",
        axis_format=lambda value: f"{value:.0f}",
    )
    new, expansion, churned = _rects(svg)
    # Zero is where the first bar starts and the negative one begins.
    zero = new[0] + new[1]
    assert abs(expansion[0] + expansion[1] - new[0]) < 0.2
    assert abs(churned[0] - zero) < 0.2
    assert abs(new[1] - 3 * expansion[1]) < 0.2 and abs(churned[1] - 2 * expansion[1]) < 0.2
    assert ">0</text>" in svg and ">-25</text>" in svg and ">50</text>" in svg


def test_texts_are_escaped_and_the_legend_wraps():
    names = [f"<b>Product {n}</b>" for n in range(8)]
    svg = stacked_bar_chart(
        ["<script>"],
        [ChartSeries(name, [Decimal(n)]) for n, name in enumerate(names)],
        title='A "title"',
        axis_format=str,
    )
    assert "<script>" not in svg and "<b>" not in svg
    assert 'aria-label="A &quot;title&quot;"' in svg
    legend_rows = set(re.findall(r'<rect x="\d+" y="(\d+)" width="10" height="10"', svg))
    assert len(legend_rows) > 1


def test_no_figures_draw_an_empty_axis():
    svg = stacked_bar_chart([], [], title="Nothing", axis_format=str)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
