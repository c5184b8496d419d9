"""Line charts drawn on the server as SVG geometry (no script, no inline style: the CSP stays script-src 'self').

`line_chart` turns named series over labelled points into coordinates a template draws
(templates/public/bulletin/_charts.html, `line_chart`); each chart there comes with its data table and a CSV.
"""

from __future__ import annotations

import math
from typing import Any

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), then a few more.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
)
DASHES = ("", "6 3", "2 2", "8 3 2 3")
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 34, 12, 36  # room for the first and last labels under the axis


def _nice_top(value: float) -> float:
    """A round number at or above `value` for the top of the axis."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def line_chart(labels: list[str], series: dict[str, list[float | int | None]], names: dict[str, str]) -> dict[str, Any]:
    """The geometry of a line chart: the series' polylines and points, the axes' ticks and labels, a legend."""
    values = [float(v) for points in series.values() for v in points if v is not None]
    top = _nice_top(max(values, default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + (i * step if len(labels) > 1 else inner_w / 2), 1)

    def y(v: float) -> float:
        return round(TOP + inner_h * (1 - v / top), 1)

    lines = []
    for n, (key, points) in enumerate(series.items()):
        dots = [(x(i), y(float(v))) for i, v in enumerate(points) if v is not None]
        lines.append(
            {
                "key": key,
                "name": names.get(key, key),
                "color": PALETTE[n % len(PALETTE)],
                "dash": DASHES[(n // len(PALETTE)) % len(DASHES)],
                "points": " ".join(f"{a},{b}" for a, b in dots),
                "dots": dots,
            }
        )
    every = max(1, math.ceil(len(labels) / 12))  # at most about 12 labels under the axis
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": TOP + inner_h,
        "y_ticks": [(y(top * k / 4), _tick(top * k / 4)) for k in range(5)],
        "x_labels": [(x(i), label) for i, label in enumerate(labels) if i % every == 0],
        "lines": lines,
    }


def _tick(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))
