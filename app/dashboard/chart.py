"""The trend chart as SVG drawn on the server: pure geometry, no script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # the week, e.g. "W48"
    value: str  # the share as shown, e.g. "75 %"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    points: tuple[Point, ...]
    polyline: str  # "x,y x,y ..."
    gridlines: tuple[tuple[float, str], ...]  # (y, label) at 0, 25, 50, 75, 100 %


def rate_chart(weeks: Sequence[str], rates: Sequence[float | None]) -> Chart:
    """A line of shares (0-1) per week; weeks without a share are left out of the line."""
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(weeks) - 1, 1)
    points = []
    for index, (week, rate) in enumerate(zip(weeks, rates, strict=True)):
        if rate is None:
            continue
        share = min(max(rate, 0.0), 1.0)
        points.append(
            Point(
                x=round(LEFT + index * step, 1),
                y=round(TOP + inner_h * (1 - share), 1),
                label=week.split("-")[-1],
                value=f"{round(share * 100)} %",
            )
        )
    gridlines = tuple(
        (round(TOP + inner_h * (1 - level / 100), 1), f"{level} %")
        for level in (0, 25, 50, 75, 100)
    )
    polyline = " ".join(f"{p.x},{p.y}" for p in points)
    return Chart(WIDTH, HEIGHT, tuple(points), polyline, gridlines)
