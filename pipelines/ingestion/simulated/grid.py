"""The bar grid of a simulated span, and its instants as the imitated APIs write them."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

from pipelines.ingestion.simulated.stochastic import FloatArray, IntArray

MINUTES_PER_YEAR = 365.0 * 24 * 60
DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BarGrid:
    """Bars ``i = 0..count-1`` starting at ``start + i * step``."""

    start: dt.datetime
    step: dt.timedelta
    count: int

    @property
    def step_minutes(self) -> float:
        return self.step.total_seconds() / 60.0

    @property
    def dt_years(self) -> float:
        return self.step_minutes / MINUTES_PER_YEAR

    @property
    def dt_hours(self) -> float:
        return self.step_minutes / 60.0

    @property
    def bars_per_day(self) -> float:
        return 1440.0 / self.step_minutes

    @property
    def step_ms(self) -> int:
        return self.step // dt.timedelta(milliseconds=1)

    @property
    def day0(self) -> dt.date:
        return self.start.date()

    def instant(self, bar: int) -> dt.datetime:
        return self.start + bar * self.step

    def index(self, instant: dt.datetime) -> int:
        """Index of the first bar starting at or after ``instant``, clipped to ``[0, count]``."""
        bar = -((self.start - instant) // self.step)  # ceil division
        return min(max(bar, 0), self.count)

    def starts_ms(self, first: int, end: int) -> IntArray:
        """Starts of bars ``first..end-1`` in milliseconds since midnight of ``day0``."""
        origin = (self.start - dt.datetime.combine(self.day0, dt.time(), tzinfo=dt.UTC)) // (
            dt.timedelta(milliseconds=1)
        )
        return origin + np.arange(first, end, dtype=np.int64) * self.step_ms

    def years_since(self, anchor: dt.datetime) -> FloatArray:
        """Years from ``anchor`` to the end of each bar."""
        offset = (self.start - anchor) / dt.timedelta(days=365)
        return np.asarray(offset + (np.arange(self.count) + 1.0) * self.dt_years, dtype=np.float64)


def iso_z(instant: dt.datetime) -> str:
    """``2024-01-01T00:00:00Z``: how FRED-, NewsAPI- and request-style times are written."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def _clock_strings() -> tuple[list[str], list[str]]:
    """Lookup tables ``"HH:MM:SS."`` per second of day and ``"mmm0000Z"`` per millisecond."""
    two = [f"{i:02d}" for i in range(60)]
    hms = [f"{h}:{m}:{sec}." for h in two[:24] for m in two for sec in two]
    return hms, [f"{ms:03d}0000Z" for ms in range(1000)]


def coinapi_times(day0: dt.date, ms: IntArray) -> list[str]:
    """CoinAPI's format (7 fractional digits and ``Z``: ``2024-01-01T00:00:00.0000000Z``) of
    instants given as milliseconds since midnight of ``day0``.

    Built from lookup tables: ``np.datetime_as_string`` costs about 1 us per value, too slow
    for millions of 1-minute bars.
    """
    if len(ms) == 0:
        return []
    hms, frac = _clock_strings()
    days = ms // 86_400_000
    first = int(days[0])
    prefixes = [
        f"{(day0 + dt.timedelta(days=d)).isoformat()}T" for d in range(first, int(days[-1]) + 1)
    ]
    return [
        prefixes[day - first] + hms[second] + frac[milli]
        for day, second, milli in zip(
            days.tolist(), (ms % 86_400_000 // 1000).tolist(), (ms % 1000).tolist(), strict=True
        )
    ]
