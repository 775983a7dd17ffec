"""The coverage-precision plane: which runs are not beaten on both at once, and the plot of it.

Learners trade precision (pass@1) for coverage (pass@k): a mass-covering objective solves more
problems at large k, a mode-seeking one answers the easy ones more often. No single number ranks
them, so runs are compared by the Pareto frontier of (precision, coverage).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox
from pydantic import BaseModel

from leanfilter.metrics import Interval


class ParetoPoint(BaseModel):
    label: str
    precision: Interval
    coverage: Interval


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point matches or beats on both axes, by increasing x.

    Of several identical points only the first is kept, so the frontier has no zero-length step.
    """
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox >= x and oy >= y) and ((ox, oy) != (x, y) or j < i)
            for j, (ox, oy) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i])


def _tied_with(points: Sequence[tuple[float, float]], front: Sequence[int]) -> list[bool]:
    """Whether each point is on the frontier, a point equal to a frontier point included: two
    identical runs are both drawn on it, so neither hides the other as "dominated"."""
    frontier = {points[i] for i in front}
    return [point in frontier for point in points]


def plot_pareto(points: Sequence[ParetoPoint], k: int, path: Path) -> None:
    pareto_figure(points, k).savefig(path)


def pareto_figure(points: Sequence[ParetoPoint], k: int) -> Figure:
    """Precision on x, coverage on y, bootstrap intervals as error bars, the frontier dashed."""
    xy = [(p.precision.estimate, p.coverage.estimate) for p in points]
    front = pareto_front(xy)
    on_the_front = _tied_with(xy, front)
    fig = Figure(figsize=(6.4, 4.8), dpi=150)  # no pyplot: no global state, no display backend
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplots()
    for on_front, style in ((True, _FRONT), (False, _DOMINATED)):
        chosen = [i for i in range(len(points)) if on_the_front[i] == on_front]
        if chosen:
            ax.errorbar(
                [xy[i][0] for i in chosen],
                [xy[i][1] for i in chosen],
                xerr=_error_bars([points[i].precision for i in chosen]),
                yerr=_error_bars([points[i].coverage for i in chosen]),
                linestyle="none",
                elinewidth=1,
                capsize=2,
                markersize=6,
                zorder=3,
                **style,
            )
    ax.plot(*zip(*(xy[i] for i in front), strict=True), "--", color=_FRONT["color"], alpha=0.7)
    labels = [
        ax.annotate(
            point.label,
            xy[i],
            xytext=_NEAR_OFFSETS[0],
            textcoords="offset points",
            fontsize=8,
            color="black" if on_the_front[i] else "dimgray",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            arrowprops={"arrowstyle": "-", "color": "gray", "lw": 0.6, "shrinkB": 4},
            zorder=4,
        )
        for i, point in enumerate(points)
    ]
    confidence = points[0].precision.confidence if points else 0.95
    ax.set_xlabel("precision (pass@1)")
    ax.set_ylabel(f"coverage (pass@{k})")
    ax.set_title(f"Coverage vs precision, {confidence:.0%} bootstrap intervals")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.margins(0.15)
    fig.tight_layout()
    markers = [
        Bbox.from_extents(
            x - _MARKER_HALF_PX, y - _MARKER_HALF_PX, x + _MARKER_HALF_PX, y + _MARKER_HALF_PX
        )
        for x, y in ax.transData.transform(xy)
    ]
    _spread_labels(labels, markers, canvas.get_renderer())
    return fig


_FRONT = {"color": "tab:blue", "marker": "o", "label": "on the Pareto frontier"}
_DOMINATED = {"color": "tab:gray", "marker": "s", "label": "dominated"}
_MARKER_HALF_PX = 7
_NEAR_OFFSETS = ((6, 6), (-6, 6), (6, -14), (-6, -14), (6, 18), (-6, 18), (6, -26), (-6, -26))
_DIRECTIONS = ((1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
_FAR_OFFSETS = tuple((12 * r * dx, 12 * r * dy - 3) for r in (2, 3, 4, 5) for dx, dy in _DIRECTIONS)


def _error_bars(intervals: Sequence[Interval]) -> list[list[float]]:
    return [[i.estimate - i.low for i in intervals], [i.high - i.estimate for i in intervals]]


def _spread_labels(
    labels: Sequence[Annotation], markers: Sequence[Bbox], renderer: RendererBase
) -> None:
    """Place each label where it covers no marker and no earlier label.

    Close by, a label must also be nearer its own point than any other, so it cannot be read as
    another's; where crowding leaves no such place, it moves further out on a leader line.
    """
    placed = list(markers)
    centres = np.array([m.get_points().mean(axis=0) for m in markers])
    for own, label in enumerate(labels):
        for dx, dy in (*_NEAR_OFFSETS, *_FAR_OFFSETS):
            far = (dx, dy) not in _NEAR_OFFSETS
            label.xyann = (dx, dy)
            label.set_horizontalalignment("center" if dx == 0 else "left" if dx > 0 else "right")
            label.update_positions(renderer)
            box = Text.get_window_extent(label, renderer)  # the text alone, not its leader line
            centre = box.get_points().mean(axis=0)
            nearest = np.argmin(np.linalg.norm(centres - centre, axis=1)) == own
            if (far or nearest) and not any(box.overlaps(other) for other in placed):
                break
        label.arrow_patch.set_visible(far)
        placed.append(box)
