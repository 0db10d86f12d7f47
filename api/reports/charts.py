"""The reports' charts: matplotlib figures saved as SVG images (vector in the PDF).

Matplotlib takes 1-2 s to import on these machines, so it is imported on the first chart, not
with this module. Figures are built with the object API (``Figure``, never pyplot's global
state), one per call, so threads rendering reports at once do not share one. Text stays text
(``svg.fonttype: none``, DejaVu Sans like the pages), so the PDF's words can be searched and
copied; ids and metadata are fixed, so the same data draws the same SVG.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The palette of the dashboard's charts (api/web/static), so a printed report looks like it.
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BLUE = "#2563eb"
ORANGE = "#ea580c"
GREEN = "#16a34a"
RED = "#dc2626"
PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#64748b")

#: Width of a chart in inches: the A4 page's text block (210 mm less 2 x 16 mm margins).
WIDTH = 7.0

_SETUP_LOCK = threading.Lock()
_ready = False
#: Held while a report's charts are drawn: matplotlib is not thread-safe (shared font and
#: text caches), and reports render in the API's threadpool. The GIL serialised most of the
#: drawing anyway.
DRAWING = threading.Lock()


def _setup() -> None:
    """Import matplotlib and fix the settings every chart shares (once per process)."""
    global _ready
    with _SETUP_LOCK:
        if _ready:
            return
        import matplotlib  # 1-2 s: only when a report is drawn

        matplotlib.use("svg", force=False)
        matplotlib.rcParams.update(
            {
                "svg.fonttype": "none",
                "svg.hashsalt": "rwa-reports",
                "font.family": "DejaVu Sans",
                "font.size": 8,
                "axes.edgecolor": GRID,
                "axes.labelcolor": MUTED,
                "axes.titlesize": 9,
                "xtick.color": MUTED,
                "ytick.color": MUTED,
                "axes.spines.top": False,
                "axes.spines.right": False,
                "axes.grid": True,
                "grid.color": GRID,
                "grid.linewidth": 0.6,
                "legend.frameon": False,
                "legend.fontsize": 7,
            }
        )
        _ready = True


#: Margins around the plot, in inches: room for the tick labels and the axis label on the left,
#: the date ticks below. Fixed, not matplotlib's constrained layout, which solved the layout
#: again on every draw and took half of a chart's time.
LEFT, RIGHT, BOTTOM, TOP = 0.8, 0.15, 0.4, 0.1


def _figure(height: float, top: float = TOP, right: float = RIGHT) -> tuple[Figure, Axes]:
    _setup()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height))
    figure.subplots_adjust(
        left=LEFT / WIDTH,
        right=1 - right / WIDTH,
        bottom=BOTTOM / height,
        top=1 - top / height,
    )
    return figure, figure.add_subplot()


def _svg(figure: Figure) -> str:
    """The figure as an SVG ``data:`` URI for an ``<img>`` (no date in it: the same data, the
    same bytes). An image, not SVG inline in the HTML: WeasyPrint then styles the chart's
    hundreds of elements apart from the page's cascade, which took a third of a report's
    time (docs/benchmarks.md, "Reports")."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _x(dates: Sequence[dt.datetime]) -> Any:
    """Times as matplotlib's day numbers (UTC), which every plotting call takes."""
    from matplotlib.dates import date2num

    return date2num(list(dates))  # type: ignore[no-untyped-call]


def _dates(axes: Axes) -> None:
    """Date ticks: a few per axis, each as short as its neighbours allow (``Jan 08``)."""
    import matplotlib.dates as mdates

    axes.xaxis_date()
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    )


@dataclass(frozen=True, slots=True)
class Band:
    """A forecast path and its intervals (``lower``/``upper`` by coverage, e.g. 0.8)."""

    label: str
    dates: Sequence[dt.datetime]
    value: Sequence[float]
    lower: dict[float, Sequence[float]]
    upper: dict[float, Sequence[float]]


def price_with_forecasts(
    dates: Sequence[dt.datetime], closes: Sequence[float], bands: Sequence[Band]
) -> str:
    """Daily closes, then each forecast's path with its intervals shaded (widest lightest)."""
    figure, axes = _figure(2.8, top=0.35)
    axes.plot(_x(dates), closes, color=INK, linewidth=1.1, label="daily close")
    # The longest horizon first, so the shorter one's narrower bands are drawn over it.
    for band, color in reversed(list(zip(bands, (ORANGE, BLUE), strict=False))):
        for coverage in sorted(band.upper, reverse=True):
            axes.fill_between(
                _x(band.dates),
                band.lower[coverage],
                band.upper[coverage],
                color=color,
                alpha=0.12 if coverage > 0.9 else 0.22,
                linewidth=0,
            )
        axes.plot(
            _x(band.dates), band.value, color=color, linewidth=1.1, linestyle="--", label=band.label
        )
    axes.set_ylabel("USD")
    # Above the plot, not on it: a legend inside hides the newest closes. The bands are named
    # in the caption: a legend entry each doubled the chart's elements.
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3)
    _dates(axes)
    return _svg(figure)


def horizontal_bars(
    labels: Sequence[str], values: Sequence[float], limit: float | None = None, unit: str = ""
) -> str:
    """One bar per label, top to bottom, the value written beside it (risk scores, weights)."""
    figure, axes = _figure(0.3 * len(labels) + 0.6)
    positions = list(range(len(labels)))[::-1]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    axes.barh(positions, values, color=colors, height=0.6)
    axes.set_yticks(positions, labels)
    axes.grid(axis="y", visible=False)
    top = limit if limit is not None else max([*values, 0.0]) * 1.15 or 1.0
    axes.set_xlim(0, top)
    for position, value in zip(positions, values, strict=True):
        axes.text(value + top * 0.01, position, f"{value:,.4g}{unit}", va="center", color=INK)
    return _svg(figure)


def signed_bars(dates: Sequence[dt.datetime], values: Sequence[float], label: str) -> str:
    """Daily bars above (green) or below (red) zero: sentiment, daily P&L."""
    figure, axes = _figure(1.9)
    colors = [GREEN if v >= 0 else RED for v in values]
    axes.bar(_x(dates), values, color=colors, width=0.8)
    axes.axhline(0, color=MUTED, linewidth=0.6)
    axes.set_ylabel(label)
    _dates(axes)
    return _svg(figure)


def lines(
    dates: Sequence[dt.datetime],
    left: tuple[str, Sequence[float | None]],
    right: tuple[str, Sequence[float | None]] | None = None,
    twin: bool = True,
) -> str:
    """One series (``(name, values)``, gaps where a value is None) and optionally a second:
    on its own right axis (``twin``: other units), each axis labelled in its series' colour,
    or on the same axis with a legend."""
    on_right = right is not None and twin
    figure, axes = _figure(2.2, right=LEFT if on_right else RIGHT)
    sides = [(axes, left, BLUE)]
    if right is not None:
        other = axes.twinx() if twin else axes
        if twin:
            other.grid(visible=False)
            other.spines["right"].set_visible(True)
        sides.append((other, right, ORANGE))
    for side, (name, values), color in sides:
        side.plot(_x(dates), [_gap(v) for v in values], color=color, linewidth=1.1, label=name)
        side.yaxis.set_major_formatter(_compact())
        if side is not axes or on_right or right is None:
            side.set_ylabel(name, color=color)
    if right is not None and not twin:
        axes.legend(loc="upper left", ncols=2)
    _dates(axes)
    return _svg(figure)


def _compact() -> Any:
    """Tick labels like 1.5M rather than an offset ("1e6") above the axis."""
    from matplotlib.ticker import EngFormatter

    return EngFormatter(sep="")


def _gap(value: float | None) -> Any:
    return float("nan") if value is None else value
