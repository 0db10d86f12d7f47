"""One measured risk factor and the scales that turn a measurement into 0-100 risk points.

Every factor keeps what was measured (``value``), the points it scored (0 = no risk, 100 = the
most risk the scale recognises) and why, so a score can always be explained. Scales are fixed
anchors, never fitted to the data being scored: the same inputs always give the same score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Factor:
    """One input of a sub-score: its ``points`` (0-100) enter the sub-score with ``weight``."""

    sub_score: str
    name: str
    value: float | str | None
    points: float
    weight: float
    note: str

    def as_dict(self, composite_weight: float) -> dict[str, object]:
        return {
            "sub_score": self.sub_score,
            "factor": self.name,
            "value": self.value,
            "points": round(self.points, 1),
            "contribution": round(self.points * self.weight * composite_weight, 2),
            "note": self.note,
        }


def log_scale(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 100 at or above ``high``, log-linear between (for quantities
    spanning orders of magnitude: volatility, VaR, illiquidity)."""
    if value <= low:
        return 0.0
    if value >= high:
        return 100.0
    return 100.0 * (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))


def linear_scale(value: float, low: float, high: float) -> float:
    """0 at ``low``, 100 at ``high`` (either order), linear between, clamped."""
    if high == low:
        raise ValueError("a scale needs two different anchors")
    share = (value - low) / (high - low)
    return 100.0 * min(1.0, max(0.0, share))


def weighted_points(factors: Sequence[Factor]) -> float:
    """The sub-score of ``factors``: their points averaged by weight."""
    total = sum(f.weight for f in factors)
    if total <= 0:
        raise ValueError("a sub-score needs at least one weighted factor")
    return sum(f.points * f.weight for f in factors) / total


def to_score(points: float) -> int:
    """Risk points (0-100) as the published integer score 1-100."""
    return int(min(100, max(1, round(points))))
