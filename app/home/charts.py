"""Geometry for the dashboard's server-rendered SVG bar chart (no JavaScript, no inline style).

The template draws what this computes: bars in a fixed viewBox that scales with the page, so the
chart is the same picture in the browser and in a PDF.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 600, 160
LEFT, BOTTOM, TOP = 36, 20, 8  # room for the y labels, the x labels and the top label


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str  # the tooltip and screen-reader text
    tick: str | None  # an x-axis label under this bar, or None


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    ceiling: int  # the value at the top of the plot
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    baseline: int = HEIGHT - BOTTOM

    @property
    def total(self) -> int:
        return sum(b.value for b in self.bars)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above value, so the axis reads in round numbers."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def bar_chart(points: list[tuple[str, int, str | None]]) -> BarChart:
    """points: (label, value, tick or None), left to right."""
    ceiling = nice_ceiling(max((v for _l, v, _t in points), default=0))
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(points), 1)
    gap = min(slot * 0.2, 4)
    bars = []
    for i, (label, value, tick) in enumerate(points):
        h = plot_h * value / ceiling
        # A day with alerts is never drawn as nothing: at least one unit tall.
        h = max(h, 1.0) if value else 0.0
        bars.append(Bar(x=round(LEFT + i * slot + gap / 2, 2), y=round(TOP + plot_h - h, 2),
                        width=round(slot - gap, 2), height=round(h, 2), value=value, label=label, tick=tick))
    return BarChart(bars=bars, ceiling=ceiling)
