"""Signal backtests: performance figures by their definitions, and no same-day trading."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from models.forecast.backtest import (
    RISK_LOOKBACK,
    backtest_asset,
    forecast_signal,
    performance,
    risk_signal,
    sentiment_signal,
    volatility_path,
)
from models.forecast.forecasters import NaiveForecaster
from models.risk.tail import SEED_RETURNS


def test_performance_by_definition() -> None:
    returns = np.array([0.0, 0.10, -0.05, 0.02, -0.10])
    always_long = np.ones(5)
    result = performance(always_long, returns)
    strategy = returns[1:]
    equity = np.cumprod(1 + strategy)
    assert result.total_return == pytest.approx(equity[-1] - 1)
    assert result.sharpe == pytest.approx(strategy.mean() / strategy.std(ddof=1) * math.sqrt(365))
    downside = np.sqrt(np.mean(np.minimum(strategy, 0) ** 2))
    assert result.sortino == pytest.approx(strategy.mean() / downside * math.sqrt(365))
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))
    assert result.max_drawdown == pytest.approx(np.max(1 - np.concatenate([[1.0], equity]) / peak))
    assert result.exposure == 1.0


def test_a_position_earns_the_next_days_return_only() -> None:
    returns = np.array([0.5, 0.0, 0.0])  # a jump on day 0 cannot be earned by a day-0 position
    assert performance(np.array([1.0, 0.0, 0.0]), returns).total_return == 0.0
    assert performance(np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 0.2])).total_return == (
        pytest.approx(0.2)
    )


def test_signals() -> None:
    assert list(sentiment_signal(np.array([0.5, -0.5, 0.1, np.nan]))) == [1.0, -1.0, 0.0, 0.0]
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 80)))
    # the naive forecast expects no change: never a position
    assert not forecast_signal(NaiveForecaster(), closes, start=40).any()
    with pytest.raises(ValueError, match="one position per day"):
        performance(np.ones(3), np.ones(4))


def test_backtest_asset_compares_four_strategies_over_the_same_days() -> None:
    closes = 100 * np.exp(np.cumsum(np.full(120, 0.01)))  # a steady climb
    sentiment = np.full(120, np.nan)
    sentiment[-20:] = 0.9  # good news in the last 20 days
    result = backtest_asset("btc", closes, sentiment, NaiveForecaster(), days=40)
    assert result.buy_and_hold.days == result.forecast.days == result.sentiment.days == 39
    assert result.risk.days == 39 and result.buy_and_hold.hit_rate == 1.0
    assert result.forecast.hit_rate is None  # never held a position
    assert result.buy_and_hold.total_return == pytest.approx(np.exp(0.01 * 39) - 1)
    assert result.forecast.exposure == 0.0  # the naive forecast never expects a move
    assert result.sentiment.exposure == pytest.approx(19 / 39)
    assert result.sentiment.total_return > 0
    with pytest.raises(ValueError, match="need 70"):
        backtest_asset("btc", closes[:60], sentiment[:60], NaiveForecaster(), days=40)


def test_figures_checked_by_hand_on_a_four_day_series() -> None:
    # positions [1, 1, 0, 1] held over the next day's returns: strategy 0.10, -0.05, 0, -0.10
    result = performance(
        np.array([1.0, 1.0, 0.0, 1.0, -1.0]), np.array([0, 0.1, -0.05, 0.02, -0.1])
    )
    # equity 1.10, 1.045, 1.045, 0.9405
    assert result.total_return == pytest.approx(-0.0595)
    # mean -0.0125; sample std sqrt(0.021875 / 3) = 0.0853912; x sqrt(365) = 19.104973
    assert result.sharpe == pytest.approx(-0.0125 / 0.0853912 * 19.104973, rel=1e-5)
    assert result.sharpe == pytest.approx(-2.79668, rel=1e-5)
    # downside deviation sqrt((0.05^2 + 0.10^2) / 4) = 0.0559017
    assert result.sortino == pytest.approx(-4.27200, rel=1e-5)
    # from the 1.10 peak down to 0.9405
    assert result.max_drawdown == pytest.approx(1 - 0.9405 / 1.10)
    assert result.exposure == 0.75
    assert result.hit_rate == pytest.approx(1 / 3)  # three days held, one gained
    # a short position gains on a fall: a hit
    short = performance(np.array([-1.0, 0.0]), np.array([0.0, -0.02]))
    assert short.hit_rate == 1.0 and short.total_return == pytest.approx(0.02)


def calm_then_stormy(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = np.concatenate([rng.normal(0, 0.005, 150), rng.normal(0, 0.05, 30)])
    return np.asarray(100 * np.exp(np.cumsum(returns)))


def test_risk_signal_stands_aside_when_volatility_rises_above_its_median() -> None:
    closes = calm_then_stormy()
    positions = risk_signal(closes)
    assert set(np.unique(positions)) <= {0.0, 1.0}  # long or flat, never short
    assert not positions[:SEED_RETURNS].any()  # the EWMA's seed would see later days
    assert positions[-5:].sum() == 0  # in the storm: flat
    path = volatility_path(closes)
    assert path.forecast[-1] > 3 * path.median[-1] > 0
    assert (positions == np.where(path.forecast <= path.median, 1.0, 0.0)).all()


def test_risk_signal_uses_the_past_only() -> None:
    closes = calm_then_stormy()
    cut = 120
    changed = closes.copy()
    changed[cut + 1 :] *= np.linspace(1.0, 3.0, closes.size - cut - 1)
    assert (risk_signal(closes)[: cut + 1] == risk_signal(changed)[: cut + 1]).all()
    assert RISK_LOOKBACK == 90


def test_each_signal_reads_its_last_day_with_inputs_dates_and_rule() -> None:
    closes = calm_then_stormy()
    sentiment = np.full(closes.size, np.nan)
    sentiment[-1] = -0.6
    dates = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(closes.size)]
    result = backtest_asset("btc", closes, sentiment, NaiveForecaster(), 40, dates)
    assert result.first_day == dates[-40] and result.last_day == dates[-1]
    readings = {r.signal: r for r in result.readings}
    assert list(readings) == ["forecast", "sentiment", "risk"]
    assert all(r.inputs["date"] == "2026-06-29" for r in readings.values())
    assert readings["sentiment"].direction == -1
    assert readings["sentiment"].strength == pytest.approx(0.6)
    assert readings["sentiment"].inputs["sentiment_score"] == -0.6
    assert readings["risk"].direction == 0 and readings["risk"].strength == 1.0
    assert readings["risk"].inputs["var_95_1d"] > 0.03  # the storm's 1-in-20 day loss
    forecast = readings["forecast"]
    assert forecast.direction == 0 and forecast.strength == 0.0  # naive: no move expected
    assert forecast.inputs["forecast_1d"] == pytest.approx(closes[-1])
    assert forecast.inputs["lower_80"] < closes[-1] < forecast.inputs["upper_80"]
    assert "never short" in readings["risk"].rule and "0.2" in readings["sentiment"].rule
    assert readings["risk"].performance == result.risk
    with pytest.raises(ValueError, match="aligned"):
        backtest_asset("btc", closes, sentiment[1:], NaiveForecaster(), 40)
