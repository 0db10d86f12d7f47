"""US macro series in FRED's shape: DFF, DTB3, DGS10 and CPIAUCSL (docs/simulator.md).

Values are text, ``"."`` where FRED has none (US federal holidays for DTB3/DGS10, which list
business days only); DFF lists every calendar day, as FRED does; CPI is monthly, and a month
appears only once released (mid next month).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipelines.ingestion.simulated.grid import DAY
from pipelines.ingestion.simulated.stochastic import ornstein_uhlenbeck
from pipelines.ingestion.simulated.streams import Streams, keyed_rng


@dataclass(frozen=True, slots=True)
class MacroSeries:
    """One simulated FRED series."""

    series_id: str
    frequency: Literal["daily", "business", "monthly"]
    mean: float
    sd: float  # stationary sd of the deviation from the mean
    half_life_days: float
    decimals: int


MACRO_SERIES: dict[str, MacroSeries] = {
    # Effective fed funds: FRED publishes it every calendar day; it steps at policy meetings.
    "DFF": MacroSeries(
        series_id="DFF", frequency="daily", mean=4.33, sd=0.75, half_life_days=90.0, decimals=2
    ),
    # Spread to DFF.
    "DTB3": MacroSeries(
        series_id="DTB3", frequency="business", mean=-0.08, sd=0.12, half_life_days=30.0,
        decimals=2,
    ),
    "DGS10": MacroSeries(
        series_id="DGS10", frequency="business", mean=4.2, sd=0.6, half_life_days=250.0,
        decimals=2,
    ),
    # Level of January 2024.
    "CPIAUCSL": MacroSeries(
        series_id="CPIAUCSL", frequency="monthly", mean=308.417, sd=0.002, half_life_days=90.0,
        decimals=3,
    ),
}  # fmt: skip
#: Macro paths start here (or at the span, if earlier) so a date's value does not depend on it.
MACRO_ANCHOR = dt.date(1990, 1, 1)
#: CPI for a month is released mid-way through the next one.
CPI_RELEASE_LAG = dt.timedelta(days=14)
_MEETING_DAYS = 42  # the FOMC meets about every six weeks
_CPI_INFLATION = 0.03


def us_bond_market_holidays(year: int) -> set[dt.date]:
    """Federal holidays on which FRED's Treasury series have no value (``"."``)."""

    def nth_weekday(month: int, weekday: int, nth: int) -> dt.date:
        first = dt.date(year, month, 1)
        if nth > 0:
            return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
        last = dt.date(year + month // 12, month % 12 + 1, 1) - DAY
        return last - dt.timedelta(days=(last.weekday() - weekday) % 7)

    def observed(day: dt.date) -> dt.date:
        shift = {5: -1, 6: 1}.get(day.weekday(), 0)
        return day + dt.timedelta(days=shift)

    fixed = [dt.date(year, 1, 1), dt.date(year, 7, 4), dt.date(year, 11, 11), dt.date(year, 12, 25)]
    if year >= 2022:
        fixed.append(dt.date(year, 6, 19))
    floating = [
        nth_weekday(1, 0, 3),  # Martin Luther King Jr. Day
        nth_weekday(2, 0, 3),  # Presidents' Day
        nth_weekday(5, 0, -1),  # Memorial Day
        nth_weekday(9, 0, 1),  # Labor Day
        nth_weekday(10, 0, 2),  # Columbus Day
        nth_weekday(11, 3, 4),  # Thanksgiving
    ]
    return {observed(day) for day in fixed} | set(floating)


def _macro_daily(seed: int, series: MacroSeries, first: dt.date, last: dt.date) -> list[float]:
    """Daily values from the anchor (or ``first``, if earlier) through ``last``."""
    anchor = min(MACRO_ANCHOR, first)
    day_count = (last - anchor).days + 1
    streams = Streams(seed, f"fred:{series.series_id}:{anchor.isoformat()}")
    if series.series_id == "DTB3":
        dff = np.array(_macro_daily(seed, MACRO_SERIES["DFF"], first, last))
        normals = streams("spread").standard_normal(day_count)
        spread = ornstein_uhlenbeck(normals, series.sd, series.half_life_days)
        return list(dff + series.mean + spread)
    if series.series_id == "DFF":
        # The policy target moves in 25 bp steps at meetings; the effective rate wobbles around it.
        meetings = day_count // _MEETING_DAYS + 1
        normals = streams("target").standard_normal(meetings)
        target = series.mean + ornstein_uhlenbeck(normals, series.sd, 4.0)
        target = np.maximum(np.round(target * 4.0) / 4.0, 0.125)
        daily = np.repeat(target, _MEETING_DAYS)[:day_count]
        return list(daily + 0.01 * streams("daily").standard_normal(day_count))
    normals = streams("daily").standard_normal(day_count)
    return list(series.mean + ornstein_uhlenbeck(normals, series.sd, series.half_life_days))


def fred_observations(
    seed: int, series: MacroSeries, first: dt.date, last: dt.date, as_of: dt.date
) -> list[dict[str, str]]:
    """FRED observation records for ``first..last`` (inclusive), values as text, "." missing.

    Each observation's ``realtime_start`` is the day it was first published (ALFRED's first
    vintage: the next day for daily series, mid-way through the next month for CPI), as a source
    polled on schedule would have seen it, so point-in-time joins over simulated history have
    values to find."""

    def observation(day: dt.date, value: str, released: dt.date) -> dict[str, str]:
        return {
            "realtime_start": released.isoformat(),
            "realtime_end": as_of.isoformat(),
            "date": day.isoformat(),
            "value": value,
        }

    if series.frequency == "monthly":
        releases = {month: _month_after(month) + CPI_RELEASE_LAG for month in _months(first, last)}
        return [
            observation(month, _cpi_value(seed, series, month), released)
            for month, released in releases.items()
            if released <= as_of
        ]
    values = _macro_daily(seed, series, first, last)
    offset = (first - min(MACRO_ANCHOR, first)).days
    holidays: set[dt.date] = set()
    for year in range(first.year, last.year + 1):
        holidays |= us_bond_market_holidays(year)
    out = []
    for index in range((last - first).days + 1):
        day = first + dt.timedelta(days=index)
        if series.frequency == "business" and day.weekday() >= 5:
            continue
        missing = series.frequency == "business" and day in holidays
        value = "." if missing else f"{values[offset + index]:.{series.decimals}f}"
        out.append(observation(day, value, min(day + DAY, as_of)))
    return out


def fred_document(
    observations: list[dict[str, str]], first: dt.date, last: dt.date, as_of: dt.date
) -> dict[str, Any]:
    """FRED's ``series/observations`` answer around ``observations``, fetched on ``as_of``."""
    return {
        "realtime_start": as_of.isoformat(),
        "realtime_end": as_of.isoformat(),
        "observation_start": first.isoformat(),
        "observation_end": last.isoformat(),
        "units": "lin",
        "output_type": 1,
        "file_type": "json",
        "order_by": "observation_date",
        "sort_order": "asc",
        "count": len(observations),
        "offset": 0,
        "limit": 100000,
        "observations": observations,
    }


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    month = first.replace(day=1) if first.day == 1 else _month_after(first.replace(day=1))
    out = []
    while month <= last:
        out.append(month)
        month = _month_after(month)
    return out


def _month_after(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _cpi_value(seed: int, series: MacroSeries, month: dt.date) -> str:
    months = (month.year - 2024) * 12 + month.month - 1
    noise = series.sd * float(
        keyed_rng(seed, "fred", series.series_id, month.isoformat()).standard_normal()
    )
    value = series.mean * math.exp(_CPI_INFLATION * months / 12.0 + noise)
    return f"{value:.{series.decimals}f}"
