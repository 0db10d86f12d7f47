"""Backtests of simple signals built on the forecasts, on news sentiment and on market risk.

A signal is a position per day in {-1, 0, 1} (short, flat, long), decided with what was known at
that day's close and held over the *next* day's return, so a backtest never trades on its own
day's move. The rules (one home: the pipeline's served ``signals`` and ``rwa backtest`` call
these functions):

* **forecast** (:func:`forecast_signal`): long when the 1-day-ahead forecast is above today's
  close by more than a threshold (relative; 0 by default), short when below by more, else
  flat. The model is refit each day on the past only.
* **sentiment** (:func:`sentiment_signal`): long after a day whose mean news sentiment exceeds
  ``+0.2``, short below ``-0.2``, flat otherwise and on days without news.
* **risk** (:func:`risk_signal`): long while tomorrow's volatility forecast (the EWMA of the
  risk model's VaR, :func:`models.risk.tail.ewma_variance`, which sees only past returns) is at
  or below its median over the trailing ``RISK_LOOKBACK`` days, flat above it (stand aside in
  a high-risk regime); never short, and flat until the EWMA has its ``SEED_RETURNS`` returns.

Each signal's *strength* (0..1) says how decided today's reading is: the forecast's expected
move in units of half its 80% interval, the absolute sentiment score, and how far the
volatility forecast sits from its median (relative), each capped at 1.

Performance figures are annualised with 365 days (crypto and tokenized assets trade every day):

* Sharpe: mean / standard deviation of daily strategy returns * sqrt(365);
* Sortino: mean / downside deviation (root mean square of the negative returns) * sqrt(365);
* maximum drawdown: the deepest fall of the compounded equity curve from a previous peak;
* hit rate: the share of days held with a position whose return was positive (None when the
  strategy never held one).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.forecast.forecasters import Forecaster
from models.risk.tail import SEED_RETURNS, ewma_variance, tail_forecast

PERIODS_PER_YEAR = 365
#: Days traded by default (``rwa backtest --days``, ``rwa signals --days``).
DEFAULT_DAYS = 60
#: Sentiment above this (below its negative) is a long (short) signal.
SENTIMENT_THRESHOLD = 0.2
#: Days over which the risk signal takes the median of its volatility forecasts.
RISK_LOOKBACK = 90
#: The signals, in the order they are reported.
SIGNALS = ("forecast", "sentiment", "risk")
#: Each signal's rule in words, as served beside it.
RULES = {
    "forecast": "long when the 1-day forecast is above the close by more than {threshold:.2%}, "
    "short when below by more, else flat; refit daily on the past only",
    "sentiment": "long after a day whose news sentiment exceeds {threshold}, short below "
    "-{threshold}, flat otherwise and without news",
    "risk": "long while the EWMA volatility forecast is at or below its {lookback}-day median, "
    "flat above it; never short",
}

Inputs = dict[str, float | int | str | None]


@dataclass(frozen=True, slots=True)
class Performance:
    days: int
    total_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    exposure: float  # share of days with a position
    hit_rate: float | None = None  # share of days held with a positive return


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
    held = positions[:-1] != 0
    return Performance(
        days=int(strategy.size),
        total_return=float(equity[-1] - 1.0),
        sharpe=mean / std * annual if std > 0 else 0.0,
        sortino=mean / downside * annual if downside > 0 else 0.0,
        max_drawdown=drawdown,
        exposure=float(np.mean(held)),
        hit_rate=float(np.mean(strategy[held] > 0)) if held.any() else None,
    )


@dataclass(frozen=True, slots=True)
class ForecastPath:
    """The 1-day forecasts made at each day's close (NaN on days not forecast)."""

    mean: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray

    def expected(self, closes: np.ndarray) -> np.ndarray:
        return np.asarray(self.mean / closes - 1.0)


def one_day_forecasts(forecaster: Forecaster, closes: np.ndarray, *, start: int) -> ForecastPath:
    """The 1-day-ahead forecast made at the close of each day from ``start`` on, refit each day
    on ``closes`` up to that day only."""
    path = ForecastPath(*(np.full(closes.size, np.nan) for _ in range(3)))
    for day in range(start, closes.size):
        made = forecaster.forecast(closes[: day + 1], 1)
        path.mean[day], path.lower_80[day] = made.mean[0], made.lower[0.8][0]
        path.upper_80[day] = made.upper[0.8][0]
    return path


def threshold_positions(values: np.ndarray, threshold: float) -> np.ndarray:
    """+1 where ``values`` exceed ``threshold``, -1 below ``-threshold``, 0 otherwise (NaN: 0)."""
    clean = np.nan_to_num(values, nan=0.0)
    return np.where(clean > threshold, 1.0, np.where(clean < -threshold, -1.0, 0.0))


def forecast_signal(
    forecaster: Forecaster, closes: np.ndarray, *, start: int, threshold: float = 0.0
) -> np.ndarray:
    """The forecast rule (module doc); days before ``start`` are flat."""
    path = one_day_forecasts(forecaster, closes, start=start)
    return threshold_positions(path.expected(closes), threshold)


def sentiment_signal(scores: np.ndarray, threshold: float = SENTIMENT_THRESHOLD) -> np.ndarray:
    """The sentiment rule (module doc): NaN scores (days without news) are flat."""
    return threshold_positions(scores, threshold)


@dataclass(frozen=True, slots=True)
class VolatilityPath:
    """Per day: the volatility forecast for the next day's log return (daily) and its median
    over the trailing ``RISK_LOOKBACK`` days (NaN where not yet known)."""

    forecast: np.ndarray
    median: np.ndarray


def volatility_path(closes: np.ndarray, lookback: int = RISK_LOOKBACK) -> VolatilityPath:
    """Day ``t``'s forecast uses the log returns up to day ``t`` only; days before the EWMA has
    its seed returns are NaN (the seed would otherwise come from later days)."""
    returns = np.diff(np.log(closes))
    if returns.size == 0:
        return VolatilityPath(np.full(closes.size, np.nan), np.full(closes.size, np.nan))
    forecast = np.sqrt(ewma_variance(returns))  # closes.size values: [t] forecasts r[t + 1]
    forecast[: min(SEED_RETURNS, forecast.size)] = np.nan
    median = pd.Series(forecast).rolling(lookback, min_periods=SEED_RETURNS).median()
    return VolatilityPath(forecast, median.to_numpy(float))


def risk_signal(closes: np.ndarray, lookback: int = RISK_LOOKBACK) -> np.ndarray:
    """The risk rule (module doc): 1 (long) or 0 (flat) per day of ``closes``."""
    path = volatility_path(closes, lookback)
    with np.errstate(invalid="ignore"):
        return np.where(path.forecast <= path.median, 1.0, 0.0)


@dataclass(frozen=True, slots=True)
class SignalReading:
    """One signal on the last day of a backtest: its ``direction`` (-1, 0, 1), ``strength``
    (0..1), the ``inputs`` it was decided from (values and the day they are of), its ``rule``
    in words and its backtest over the window."""

    signal: str
    direction: int
    strength: float
    inputs: Inputs
    rule: str
    performance: Performance


@dataclass(frozen=True, slots=True)
class AssetBacktest:
    asset_id: str
    buy_and_hold: Performance
    forecast: Performance
    sentiment: Performance
    risk: Performance
    #: The last day of the data and the first day traded (None without dates).
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    readings: tuple[SignalReading, ...] = field(default=())


def backtest_asset(
    asset_id: str,
    closes: np.ndarray,
    sentiment: np.ndarray,
    forecaster: Forecaster,
    days: int,
    dates: Sequence[dt.date] | None = None,
) -> AssetBacktest:
    """The four strategies over the last ``days`` days of ``closes`` (``sentiment`` aligned
    with them, NaN without news; ``dates`` the days of both, to date the inputs): always long,
    the forecast, sentiment and risk signals, with each signal's reading on the last day."""
    if closes.size < days + 30:
        raise ValueError(f"{asset_id}: {closes.size} days of closes, need {days + 30}")
    if sentiment.size != closes.size or (dates is not None and len(dates) != closes.size):
        raise ValueError(f"{asset_id}: sentiment and dates must be aligned with the closes")
    returns = np.concatenate([[0.0], closes[1:] / closes[:-1] - 1.0])
    start = closes.size - days
    window = slice(start, None)
    path = one_day_forecasts(forecaster, closes, start=start)
    volatility = volatility_path(closes)
    positions = {
        "forecast": threshold_positions(path.expected(closes), 0.0),
        "sentiment": sentiment_signal(sentiment),
        "risk": risk_signal(closes),
    }
    results = {name: performance(p[window], returns[window]) for name, p in positions.items()}
    day = None if dates is None else dates[-1]
    inputs = {
        "forecast": _forecast_inputs(forecaster, closes, path, day),
        "sentiment": _sentiment_inputs(sentiment, day),
        "risk": _risk_inputs(closes, volatility, day),
    }
    readings = tuple(
        SignalReading(
            name,
            int(positions[name][-1]),
            _strength(name, inputs[name]),
            inputs[name],
            RULES[name].format(threshold=_THRESHOLDS[name], lookback=RISK_LOOKBACK),
            results[name],
        )
        for name in SIGNALS
    )
    return AssetBacktest(
        asset_id,
        performance(np.ones(days), returns[window]),
        results["forecast"],
        results["sentiment"],
        results["risk"],
        first_day=None if dates is None else dates[start],
        last_day=day,
        readings=readings,
    )


_THRESHOLDS = {"forecast": 0.0, "sentiment": SENTIMENT_THRESHOLD, "risk": 0.0}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _forecast_inputs(
    forecaster: Forecaster, closes: np.ndarray, path: ForecastPath, day: dt.date | None
) -> Inputs:
    close, mean = float(closes[-1]), float(path.mean[-1])
    return {
        "date": _iso(day),
        "model": forecaster.name,
        "close": close,
        "forecast_1d": _finite(mean),
        "lower_80": _finite(float(path.lower_80[-1])),
        "upper_80": _finite(float(path.upper_80[-1])),
        "expected_return": _finite(mean / close - 1.0),
    }


def _sentiment_inputs(scores: np.ndarray, day: dt.date | None) -> Inputs:
    return {"date": _iso(day), "sentiment_score": _finite(float(scores[-1]))}


def _risk_inputs(closes: np.ndarray, path: VolatilityPath, day: dt.date | None) -> Inputs:
    returns = np.diff(np.log(closes))
    var = tail_forecast(returns, 0.95).var if returns.size >= SEED_RETURNS else math.nan
    return {
        "date": _iso(day),
        "volatility_1d": _finite(float(path.forecast[-1])),
        "median_volatility_1d": _finite(float(path.median[-1])),
        "var_95_1d": _finite(var),
    }


def _strength(signal: str, inputs: Inputs) -> float:
    """How decided the reading is, 0..1 (module doc); 0 where its inputs are unknown."""
    if signal == "sentiment":
        score = inputs["sentiment_score"]
        return min(1.0, abs(float(score))) if score is not None else 0.0
    if signal == "risk":
        vol, median = inputs["volatility_1d"], inputs["median_volatility_1d"]
        if vol is None or median is None or not float(median) > 0:
            return 0.0
        return min(1.0, abs(float(vol) / float(median) - 1.0))
    expected, lower, upper, close = (
        inputs["expected_return"],
        inputs["lower_80"],
        inputs["upper_80"],
        inputs["close"],
    )
    if expected is None or lower is None or upper is None or close is None:
        return 0.0
    half_width = (float(upper) - float(lower)) / 2.0 / float(close)
    if half_width <= 0:
        return 1.0 if float(expected) != 0 else 0.0
    return min(1.0, abs(float(expected)) / half_width)
