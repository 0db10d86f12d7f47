"""Signal backtests: performance figures by their definitions, and no same-day trading."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.forecast.backtest import (
    forecast_signal,
    performance,
    sentiment_signal,
)
from models.forecast.forecasters import NaiveForecaster


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


def test_backtest_asset_compares_three_strategies_over_the_same_days() -> None:
    from models.forecast.backtest import backtest_asset

    closes = 100 * np.exp(np.cumsum(np.full(120, 0.01)))  # a steady climb
    sentiment = np.full(120, np.nan)
    sentiment[-20:] = 0.9  # good news in the last 20 days
    result = backtest_asset("btc", closes, sentiment, NaiveForecaster(), days=40)
    assert result.buy_and_hold.days == result.forecast.days == result.sentiment.days == 39
    assert result.buy_and_hold.total_return == pytest.approx(np.exp(0.01 * 39) - 1)
    assert result.forecast.exposure == 0.0  # the naive forecast never expects a move
    assert result.sentiment.exposure == pytest.approx(19 / 39)
    assert result.sentiment.total_return > 0
    with pytest.raises(ValueError, match="need 70"):
        backtest_asset("btc", closes[:60], sentiment[:60], NaiveForecaster(), days=40)
