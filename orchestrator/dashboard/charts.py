"""Line and dot charts as SVG geometry, computed on the server (no chart library, no build).

``line_chart`` maps data to pixels and picks a few round ticks; the ``chart`` macro in
``templates/macros.html`` draws the result. Missing values (None) break a line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 460, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 28


@dataclass(slots=True)
class Series:
    """One line (or set of dots) of a chart, already in pixels."""

    name: str
    colour: str
    paths: list[str] = field(default_factory=list)
    dots: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass(slots=True)
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    series: list[Series] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_label: str = ""
    empty: bool = True


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / count
    return [low + i * step for i in range(count + 1)]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) >= 0.01 else f"{value:.1e}"


def line_chart(
    title: str,
    xs: Sequence[float],
    series: Sequence[tuple[str, str, Sequence[float | None], bool]],
    *,
    x_label: str = "",
    y_range: tuple[float, float] | None = None,
    x_names: Sequence[str] | None = None,
) -> Chart:
    """A chart of ``series`` (name, colour, values aligned with ``xs``, dots-only) over ``xs``."""
    chart = Chart(title=title, x_label=x_label)
    values = [v for _, _, vs, _ in series for v in vs if v is not None]
    if not xs or not values:
        return chart
    chart.empty = False
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = y_range or (min(0.0, min(values)), max(values))
    if y_high <= y_low:
        y_high = y_low + 1.0
    span_x = (x_high - x_low) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return round(LEFT + (x - x_low) / span_x * plot_w, 1)

    def py(y: float) -> float:
        return round(TOP + (1 - (y - y_low) / (y_high - y_low)) * plot_h, 1)

    for name, colour, vs, dots_only in series:
        drawn = Series(name, colour)
        run: list[str] = []
        for index, (x, y) in enumerate(zip(xs, vs, strict=True)):
            if y is None:
                if len(run) > 1:
                    drawn.paths.append(" ".join(run))
                run = []
                continue
            label = x_names[index] if x_names else _fmt(x)
            drawn.dots.append((px(x), py(y), f"{name} {label}: {_fmt(y)}"))
            run.append(f"{px(x)},{py(y)}")
        if len(run) > 1:
            drawn.paths.append(" ".join(run))
        if dots_only:
            drawn.paths = []
        chart.series.append(drawn)
    chart.y_ticks = [(py(t), _fmt(t)) for t in _ticks(y_low, y_high)]
    x_tick_values = sorted({round(t) for t in _ticks(x_low, x_high)})
    chart.x_ticks = [(px(t), str(t)) for t in x_tick_values]
    return chart
