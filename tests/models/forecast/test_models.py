"""Forecasters and their evaluation: metric definitions, order selection, calibrated intervals
on data with a known process, degenerate series, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from models.forecast import metrics
from models.forecast.evaluation import origins, rolling_origin
from models.forecast.models import AutoArima, NaiveForecaster


def random_walk(n: int = 400, sigma: float = 0.02, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))


def test_metrics_follow_their_definitions() -> None:
    actual, forecast = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
    assert metrics.mae(actual, forecast) == pytest.approx(1.0)
    assert metrics.rmse(actual, forecast) == pytest.approx(np.sqrt(5 / 3))
    assert metrics.smape(actual, forecast) == pytest.approx(100 * (0 + 2 / 5 + 4 / 6) / 3)
    history = np.array([1.0, 2.0, 4.0, 7.0])  # naive in-sample MAE = 2
    assert metrics.mase(actual, forecast, history) == pytest.approx(0.5)
    assert metrics.coverage(actual, actual - 1, actual + 1) == 1.0
    assert metrics.smape(np.zeros(2), np.zeros(2)) == 0.0


def test_intervals_are_calibrated_on_a_random_walk() -> None:
    series = random_walk(600)
    evaluation = rolling_origin(AutoArima(), series, 7, count=40, step=7, min_train=300)
    assert 0.85 <= evaluation.coverage[0.95] <= 1.0
    assert evaluation.coverage[0.80] < evaluation.coverage[0.95]
    # on a pure random walk nothing beats the naive forecast by much, nor loses by much
    naive = rolling_origin(NaiveForecaster(), series, 7, count=40, step=7, min_train=300)
    assert 0.8 <= evaluation.mase / naive.mase <= 1.25


def test_order_selection_finds_autoregression_in_a_stationary_series() -> None:
    rng = np.random.default_rng(1)
    x = np.zeros(500)
    for t in range(1, 500):
        x[t] = 0.8 * x[t - 1] + rng.normal(0, 0.01)
    prices = np.exp(x) * 50
    forecast = AutoArima().forecast(prices, 10)
    p, d, _q = forecast.params["order"]
    assert d == 0 and p >= 1
    # mean reversion: the path heads back toward the long-run level
    assert abs(np.log(forecast.mean[-1] / 50)) < abs(np.log(prices[-1] / 50)) + 1e-9
    for level in (0.80, 0.95):
        assert np.all(forecast.lower[level] <= forecast.mean)
        assert np.all(forecast.mean <= forecast.upper[level])
    assert np.all(
        forecast.upper[0.95] - forecast.lower[0.95] >= forecast.upper[0.8] - forecast.lower[0.8]
    )


def test_a_constant_nav_is_forecast_flat_with_no_width() -> None:
    flat = np.full(120, 1.0)
    for model in (AutoArima(), NaiveForecaster()):
        forecast = model.forecast(flat, 30)
        assert np.all(forecast.mean == 1.0)
        assert np.all(forecast.lower[0.95] == forecast.upper[0.95])


def test_a_stablecoin_is_modelled_in_levels_and_reverts_to_its_peg() -> None:
    rng = np.random.default_rng(9)
    peg = 1.0 + rng.normal(0, 0.0005, 200)
    peg[-1] = 0.99  # a dip on the last day
    forecast = AutoArima(pegged=True).forecast(peg, 30)
    assert forecast.params["order"][1] == 0
    assert forecast.mean[-1] > 0.995


def test_a_feature_from_the_future_changes_nothing() -> None:
    """The forecast made at an origin depends only on the past: rewriting every later value
    leaves it unchanged."""
    series = random_walk(200)
    origin = 150
    tampered = series.copy()
    tampered[origin:] *= 3.0
    for model in (AutoArima(), NaiveForecaster()):
        before = model.forecast(series[:origin], 7)
        after = model.forecast(tampered[:origin], 7)
        np.testing.assert_array_equal(before.mean, after.mean)
    honest = rolling_origin(NaiveForecaster(), series, 7, count=1, min_train=100)
    cheat = rolling_origin(NaiveForecaster(), tampered, 7, count=1, min_train=100)
    assert honest.mae != cheat.mae  # the evaluation does see the (tampered) future it scores


def test_origins_step_back_from_the_end() -> None:
    assert origins(100, 7, 3, 7, 60) == [79, 86, 93]
    assert origins(70, 7, 5, 7, 60) == [63]
    with pytest.raises(ValueError, match="too short"):
        rolling_origin(NaiveForecaster(), random_walk(40), 7, min_train=60)
