"""Backtests of simple signals built on the forecasts and on news sentiment.

A signal is a position per day in {-1, 0, 1} (short, flat, long), decided with what was known at
that day's close and held over the *next* day's return, so a backtest never trades on its own
day's move. Performance figures are annualised with 365 days (crypto and tokenized assets trade
every day):

* Sharpe: mean / standard deviation of daily strategy returns * sqrt(365);
* Sortino: mean / downside deviation (root mean square of the negative returns) * sqrt(365);
* maximum drawdown: the deepest fall of the compounded equity curve from a previous peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.forecast.forecasters import Forecaster

PERIODS_PER_YEAR = 365


@dataclass(frozen=True, slots=True)
class Performance:
    days: int
    total_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    exposure: float  # share of days with a position


def performance(positions: np.ndarray, returns: np.ndarray) -> Performance:
    """Strategy performance of ``positions[t]`` held over ``returns[t + 1]`` (simple returns)."""
    if positions.size != returns.size:
        raise ValueError("one position per day of returns")
    strategy = positions[:-1] * returns[1:]
    if strategy.size == 0:
        raise ValueError("a backtest needs at least two days")
    equity = np.cumprod(1.0 + strategy)
    mean, std = float(strategy.mean()), float(strategy.std(ddof=1)) if strategy.size > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(strategy, 0.0) ** 2)))
    peaks = np.maximum.accumulate(np.concatenate([[1.0], equity]))
    drawdown = float(np.max(1.0 - np.concatenate([[1.0], equity]) / peaks))
    annual = math.sqrt(PERIODS_PER_YEAR)
    return Performance(
        days=int(strategy.size),
        total_return=float(equity[-1] - 1.0),
        sharpe=mean / std * annual if std > 0 else 0.0,
        sortino=mean / downside * annual if downside > 0 else 0.0,
        max_drawdown=drawdown,
        exposure=float(np.mean(positions[:-1] != 0)),
    )


def forecast_signal(
    forecaster: Forecaster, closes: np.ndarray, *, start: int, threshold: float = 0.0
) -> np.ndarray:
    """Long when the 1-day-ahead forecast is above today's close by more than ``threshold``
    (relative), short when below by more, else flat; refit each day on the past only. Days
    before ``start`` are flat."""
    positions = np.zeros(closes.size)
    for day in range(start, closes.size):
        expected = forecaster.forecast(closes[: day + 1], 1).mean[0] / closes[day] - 1.0
        positions[day] = np.sign(expected) if abs(expected) > threshold else 0.0
    return positions


def sentiment_signal(scores: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Long after a day whose sentiment score exceeds ``threshold``, short below ``-threshold``,
    flat otherwise (and on days without news: NaN scores)."""
    clean = np.nan_to_num(scores, nan=0.0)
    return np.where(clean > threshold, 1.0, np.where(clean < -threshold, -1.0, 0.0))


@dataclass(frozen=True, slots=True)
class AssetBacktest:
    asset_id: str
    buy_and_hold: Performance
    forecast: Performance
    sentiment: Performance


def backtest_asset(
    asset_id: str,
    closes: np.ndarray,
    sentiment: np.ndarray,
    forecaster: Forecaster,
    days: int,
) -> AssetBacktest:
    """The three strategies over the last ``days`` days of ``closes`` (``sentiment`` aligned
    with them, NaN without news): always long, the forecast signal, the sentiment signal."""
    if closes.size < days + 30:
        raise ValueError(f"{asset_id}: {closes.size} days of closes, need {days + 30}")
    returns = np.concatenate([[0.0], closes[1:] / closes[:-1] - 1.0])
    start = closes.size - days
    window = slice(start, None)
    forecast_positions = forecast_signal(forecaster, closes, start=start)[window]
    return AssetBacktest(
        asset_id,
        performance(np.ones(days), returns[window]),
        performance(forecast_positions, returns[window]),
        performance(sentiment_signal(sentiment)[window], returns[window]),
    )
