"""OHLCV bars from a price path, as CoinAPI records, and the ground truth of what was done.

Bars are internally consistent: ``open`` equals the previous bar's ``close``, ``high >=
max(open, close)``, ``low <= min(open, close)``, ``volume_traded >= 0`` (in units of the asset,
as CoinAPI reports it); faults are injected only when records are written (docs/simulator.md).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.ingestion.simulated.faults import FaultCodes, draw_faults, fault_kind, inject_fault
from pipelines.ingestion.simulated.grid import BarGrid, coinapi_times
from pipelines.ingestion.simulated.params import PriceParams
from pipelines.ingestion.simulated.prices import PathEvent, PricePath
from pipelines.ingestion.simulated.stochastic import FloatArray, IntArray
from pipelines.ingestion.simulated.streams import Streams


@dataclass(frozen=True, slots=True)
class Bars:
    """The OHLCV bars of one asset over the whole span, plus which bars carry a fault."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    trades: IntArray
    open_offset_ms: IntArray  # first trade, after the bar's start
    close_offset_ms: IntArray  # last trade, after the bar's start
    fault: FaultCodes
    nav: FloatArray | None
    decimals: int


@dataclass(frozen=True, slots=True)
class SimEvent:
    """Something the simulation did on purpose: ground truth for tests and models."""

    asset_id: str
    kind: str  # "jump", "depeg", "markdown", "repricing" or "fault:<FaultKind>"
    start: dt.datetime
    end: dt.datetime  # when its effect has faded (below 1 bp for de-pegs); = start if instant
    magnitude: float  # log size (jump, repricing), depth below $1 (depeg), fraction (markdown)


def price_decimals(start_price: float) -> int:
    """Decimals to quote a price with: about 9 significant digits, like exchange feeds."""
    return int(np.clip(8 - math.floor(math.log10(start_price)), 2, 10))


def to_bars(
    params: PriceParams, grid: BarGrid, path: PricePath, streams: Streams, fault_rate: float
) -> Bars:
    """Round the path into quoted bars with wicks, volume, trade times and faults."""
    decimals = price_decimals(params.start_price)
    close = np.round(path.close, decimals)
    open_ = np.concatenate(([round(path.open0, decimals)], close[:-1]))
    wick_up = np.abs(streams("wick_up").standard_normal(grid.count))
    wick_down = np.abs(streams("wick_down").standard_normal(grid.count))
    # Rounding is monotone, so the wicks stay outside open/close after rounding.
    high = np.round(np.maximum(open_, close) * np.exp(0.5 * path.sigma * wick_up), decimals)
    low = np.round(np.minimum(open_, close) * np.exp(-0.5 * path.sigma * wick_down), decimals)
    volume, trades = _volume(params, grid, path, streams, close)
    # First and last trade fall inside the bar: within its first and last quarter.
    early = streams("first_trade").uniform(0.0, 0.25, grid.count)
    late = streams("last_trade").uniform(0.0, 0.25, grid.count)
    return Bars(
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        trades=trades,
        open_offset_ms=(early * grid.step_ms).astype(np.int64),
        close_offset_ms=grid.step_ms - 1 - (late * grid.step_ms).astype(np.int64),
        fault=draw_faults(streams, grid.count, fault_rate),
        nav=path.nav,
        decimals=decimals,
    )


def _volume(
    params: PriceParams, grid: BarGrid, path: PricePath, streams: Streams, close: FloatArray
) -> tuple[FloatArray, IntArray]:
    size_noise = streams("volume").lognormal(-0.125, 0.5, grid.count)  # mean 1
    counts = streams("trade_count")
    if path.traded is not None:
        extra = counts.poisson(0.5, grid.count)
        trades = np.where(path.traded, 1 + extra, 0).astype(np.int64)
        usd = trades * params.avg_trade_usd * size_noise
    else:
        usd = params.daily_volume_usd / grid.bars_per_day * size_noise * path.activity
        trades = np.maximum(counts.poisson(usd / params.avg_trade_usd), 1).astype(np.int64)
    return np.round(usd / close, 6), trades


def sim_events(
    asset_id: str, grid: BarGrid, path_events: tuple[PathEvent, ...], bars: Bars
) -> list[SimEvent]:
    """Every event of one asset (model events and injected faults), by time."""
    out = [
        SimEvent(
            asset_id,
            event.kind,
            grid.instant(event.first_bar),
            grid.instant(event.last_bar + 1),
            event.magnitude,
        )
        for event in path_events
    ]
    for bar in np.flatnonzero(bars.fault):
        at = grid.instant(int(bar))
        kind = fault_kind(int(bars.fault[bar]))
        out.append(SimEvent(asset_id, f"fault:{kind}", at, at, 0.0))
    return sorted(out, key=lambda event: (event.start, event.kind))


def bar_records(
    bars: Bars, grid: BarGrid, first: int, end: int, boundaries: list[str]
) -> list[dict[str, Any]]:
    """The CoinAPI OHLCV records of bars ``first..end-1``, faults injected.

    ``boundaries`` holds the formatted bar boundaries of the whole grid (``count + 1`` of them):
    they are the same for every asset, so the caller formats them once.
    """
    span = slice(first, end)
    starts = grid.starts_ms(first, end)
    time_open = coinapi_times(grid.day0, starts + bars.open_offset_ms[span])
    time_close = coinapi_times(grid.day0, starts + bars.close_offset_ms[span])
    records = [
        {
            "time_period_start": start,
            "time_period_end": period_end,
            # No trade, no first/last trade time.
            "time_open": opened if trades else None,
            "time_close": closed if trades else None,
            "price_open": open_,
            "price_high": high,
            "price_low": low,
            "price_close": close,
            "volume_traded": volume,
            "trades_count": trades,
        }
        for start, period_end, opened, closed, open_, high, low, close, volume, trades in zip(
            boundaries[first:end],
            boundaries[first + 1 : end + 1],
            time_open,
            time_close,
            bars.open[span].tolist(),
            bars.high[span].tolist(),
            bars.low[span].tolist(),
            bars.close[span].tolist(),
            bars.volume[span].tolist(),
            bars.trades[span].tolist(),
            strict=True,
        )
    ]
    for offset in np.flatnonzero(bars.fault[span]):
        kind = fault_kind(int(bars.fault[first + offset]))
        inject_fault(records[offset], kind, first + int(offset), bars.decimals)
    return records
