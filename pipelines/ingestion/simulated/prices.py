"""Price paths per asset class: each model turns its parameters into closes, intrabar ranges,
activity and the events it caused (the models are described in docs/simulator.md)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipelines.ingestion.simulated.grid import BarGrid
from pipelines.ingestion.simulated.params import PriceModel, PriceParams
from pipelines.ingestion.simulated.stochastic import (
    BoolArray,
    FloatArray,
    affine_recurrence,
    ornstein_uhlenbeck,
    poisson_onsets,
)
from pipelines.ingestion.simulated.streams import Streams

#: Accrual of NAV tokens is measured from here, so a NAV on a date is the same in every span.
NAV_ANCHOR = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class PathEvent:
    """Something a model did on purpose, on bars ``first_bar..last_bar``."""

    kind: str  # "jump", "depeg", "markdown" or "repricing"
    first_bar: int
    last_bar: int
    #: Log size (jump, repricing), depth below $1 (depeg), fraction marked down (markdown).
    magnitude: float


@dataclass(frozen=True, slots=True)
class PricePath:
    """A model's output before it becomes OHLCV bars."""

    open0: float
    close: FloatArray
    sigma: FloatArray  # intrabar log-range scale per bar
    activity: FloatArray  # volume multiplier, 1 = ordinary
    traded: BoolArray | None = None  # None: every bar has trades
    nav: FloatArray | None = None  # fund NAV at each bar's end (NAV models)
    events: tuple[PathEvent, ...] = ()


def simulate_path(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    """The price path of one asset over ``grid``, by its model."""
    return _MODELS[params.model](params, grid, streams)


def _market_noise(
    params: PriceParams, grid: BarGrid, streams: Streams, half_life_h: float
) -> FloatArray:
    normals = streams("noise").standard_normal(grid.count)
    return ornstein_uhlenbeck(normals, params.noise_bps * 1e-4, half_life_h / grid.dt_hours)


def _accruing_nav(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    nav = params.start_price * np.exp(params.annual_yield * grid.years_since(NAV_ANCHOR))
    close = nav * np.exp(_market_noise(params, grid, streams, 6.0))
    open0 = float(nav[0] * math.exp(-params.annual_yield * grid.dt_years))
    sigma = np.full(grid.count, params.noise_bps * 1e-4)
    return PricePath(open0, close, sigma, np.ones(grid.count), nav=nav)


def _stable_nav(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    nav = np.full(grid.count, params.start_price)
    close = nav * np.exp(_market_noise(params, grid, streams, 6.0))
    sigma = np.full(grid.count, params.noise_bps * 1e-4)
    return PricePath(params.start_price, close, sigma, np.ones(grid.count), nav=nav)


def _private_credit(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    hits = poisson_onsets(streams("events"), params.event_rate * grid.dt_years, grid.count)
    cut = streams("markdown_size").uniform(0.02, 0.10, grid.count)
    # A markdown is a permanent step: the loss stays in every later NAV.
    factor = np.cumprod(np.where(hits, 1.0 - cut, 1.0))
    base = params.start_price * np.exp(params.annual_yield * grid.years_since(NAV_ANCHOR))
    nav = base * factor
    close = nav * np.exp(_market_noise(params, grid, streams, 12.0))
    open0 = float(base[0] * math.exp(-params.annual_yield * grid.dt_years))
    activity = 1.0 + 20.0 * np.where(hits, cut, 0.0) / 0.05
    events = tuple(
        PathEvent("markdown", int(bar), int(bar), float(cut[bar])) for bar in np.flatnonzero(hits)
    )
    sigma = np.full(grid.count, params.noise_bps * 1e-4)
    return PricePath(open0, close, sigma, activity, nav=nav, events=events)


def _stablecoin(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    onsets = poisson_onsets(streams("events"), params.event_rate * grid.dt_years, grid.count)
    depth = streams("depeg_depth").uniform(0.01, 0.07, grid.count)  # trough at 0.93-0.99
    ramp_h = streams("depeg_ramp").uniform(0.5, 3.0, grid.count)
    tau_h = streams("depeg_recovery").uniform(4.0, 36.0, grid.count)
    bar_end_h = (np.arange(grid.count) + 1.0) * grid.dt_hours
    deviation = np.zeros(grid.count)
    events = []
    for onset in np.flatnonzero(onsets):
        # Effect lasts until the exponential recovery is below 1 bp.
        span_h = ramp_h[onset] + tau_h[onset] * math.log(depth[onset] / 1e-4)
        end = min(grid.count, onset + math.ceil(span_h / grid.dt_hours) + 1)
        since_h = bar_end_h[onset:end] - onset * grid.dt_hours
        deviation[onset:end] -= depth[onset] * np.where(
            since_h < ramp_h[onset],
            since_h / ramp_h[onset],
            np.exp(-(since_h - ramp_h[onset]) / tau_h[onset]),
        )
        events.append(PathEvent("depeg", int(onset), int(end - 1), float(depth[onset])))
    close = params.start_price * (1.0 + _market_noise(params, grid, streams, 2.0) + deviation)
    activity = 1.0 + 300.0 * np.abs(deviation)
    sigma = params.noise_bps * 1e-4 + np.abs(np.diff(deviation, prepend=0.0))
    return PricePath(params.start_price, close, sigma, activity, events=tuple(events))


def _crypto(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    dt_h = grid.dt_hours
    persistence = 0.98**dt_h
    # alpha ~ sqrt(bar length) keeps the GARCH kurtosis near 6 at every bar frequency.
    alpha = 0.10 * math.sqrt(dt_h)
    beta = persistence - alpha
    jump_mean, jump_sd = -0.01, 0.04
    jump_var = params.event_rate * (jump_mean**2 + jump_sd**2)
    diffusion_var = max(params.annual_vol**2 - jump_var, 0.25 * params.annual_vol**2)
    bar_var = diffusion_var * grid.dt_years  # unconditional per-bar variance
    omega = bar_var * (1.0 - persistence)
    shocks = streams("returns").standard_normal(grid.count)
    variance = np.empty(grid.count)
    variance[0] = bar_var
    variance[1:] = affine_recurrence(
        beta + alpha * shocks[:-1] ** 2, np.full(grid.count - 1, omega), bar_var
    )
    counts = streams("events").poisson(params.event_rate * grid.dt_years, grid.count)
    size = streams("jump_size").standard_normal(grid.count)
    jumps = counts * jump_mean + np.sqrt(counts) * jump_sd * size
    log_ret = np.sqrt(variance) * shocks - 0.5 * variance + jumps
    close = params.start_price * np.exp(np.cumsum(log_ret))
    activity = np.sqrt(variance / bar_var) * (0.6 + 0.4 * np.abs(shocks)) + 20.0 * np.abs(jumps)
    sigma = np.sqrt(variance) + np.abs(jumps)
    events = tuple(
        PathEvent("jump", int(bar), int(bar), float(jumps[bar])) for bar in np.flatnonzero(counts)
    )
    return PricePath(params.start_price, close, sigma, activity, events=events)


def _gold(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    sd = params.annual_vol * math.sqrt(grid.dt_years)
    shocks = streams("returns").standard_normal(grid.count)
    close = params.start_price * np.exp(np.cumsum(sd * shocks - 0.5 * sd * sd))
    return PricePath(params.start_price, close, np.full(grid.count, sd), 0.6 + 0.4 * np.abs(shocks))


def _real_estate(params: PriceParams, grid: BarGrid, streams: Streams) -> PricePath:
    sd = params.annual_vol * math.sqrt(grid.dt_years)
    shocks = streams("returns").standard_normal(grid.count)
    hits = poisson_onsets(streams("events"), params.event_rate * grid.dt_years, grid.count)
    sign = np.where(streams("repricing_sign").random(grid.count) < 0.5, -1.0, 1.0)
    size = sign * streams("repricing_size").uniform(0.03, 0.12, grid.count)
    drift = sd * shocks - 0.5 * sd * sd + np.where(hits, size, 0.0)
    fair = params.start_price * np.exp(np.cumsum(drift))
    rate = params.trades_per_hour if params.trades_per_hour is not None else 1.0
    traded = streams("trades").random(grid.count) < 1.0 - math.exp(-rate * grid.dt_hours)
    trade_price = fair * np.exp(0.005 * streams("trade_noise").standard_normal(grid.count))
    # Between trades the quoted price stays at the last trade (or the start level).
    last = np.maximum.accumulate(np.where(traded, np.arange(grid.count), -1))
    close = np.where(last >= 0, trade_price[np.maximum(last, 0)], params.start_price)
    sigma = np.where(traded, 0.004, 0.0)
    events = tuple(
        PathEvent("repricing", int(bar), int(bar), float(size[bar])) for bar in np.flatnonzero(hits)
    )
    return PricePath(
        params.start_price, close, sigma, np.ones(grid.count), traded=traded, events=events
    )


_MODELS: dict[PriceModel, Callable[[PriceParams, BarGrid, Streams], PricePath]] = {
    "accruing_nav": _accruing_nav,
    "stable_nav": _stable_nav,
    "private_credit": _private_credit,
    "stablecoin": _stablecoin,
    "crypto": _crypto,
    "gold": _gold,
    "real_estate": _real_estate,
}
