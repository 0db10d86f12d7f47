"""Forecasters and their evaluation: metric definitions, order selection and the differencing
rule, calibrated intervals on data with a known process, degenerate series, and no look-ahead
(order selection included)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from models.forecast import metrics
from models.forecast.batch import EVALUATION_ORIGINS, evaluation_metrics, evaluation_step
from models.forecast.evaluation import forecasts_at_origins, origins, rolling_origin
from models.forecast.forecasters import AutoArima, NaiveForecaster, level_differences
from models.forecast.selection import drift_weight


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
    evaluation = rolling_origin(
        AutoArima, series, 7, count=40, step=7, min_train=300, refit_every=10
    )
    assert 0.85 <= evaluation.coverage[0.95] <= 1.0
    assert evaluation.coverage[0.80] < evaluation.coverage[0.95]
    # on a pure random walk nothing beats the naive forecast by much, nor loses by much
    naive = rolling_origin(NaiveForecaster(), series, 7, count=40, step=7, min_train=300)
    assert 0.8 <= evaluation.mase / naive.mase <= 1.25


def stationary_log_prices(n: int = 500, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = 0.8 * x[t - 1] + rng.normal(0, 0.01)
    return np.exp(x) * 50


def test_a_pegged_level_model_finds_autoregression_and_reverts() -> None:
    prices = stationary_log_prices()
    forecast = AutoArima(pegged=True).forecast(prices, 10)
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


def test_a_price_is_always_differenced_however_stationary_it_looks() -> None:
    """The differencing rule is deliberate, not a unit-root test's verdict: a price that looks
    mean-reverting over its window (where the ADF test rejects a unit root) is still a random
    walk in log levels (d = 1); only a pegged asset is modelled in levels (d = 0)."""
    assert level_differences(pegged=False) == 1
    assert level_differences(pegged=True) == 0
    forecast = AutoArima().forecast(stationary_log_prices(), 10)
    assert forecast.params["order"][1] == 1


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


def fat_tailed_random_walk(n: int, seed: int = 11) -> np.ndarray:
    """Log increments Student-t with 3 degrees of freedom (1% daily spread): a Gaussian band
    with the right variance covers too much at 80% and about right at 95%."""
    rng = np.random.default_rng(seed)
    increments: np.ndarray = rng.standard_t(3, n) * 0.01 / np.sqrt(3.0)
    prices: np.ndarray = 100.0 * np.exp(np.cumsum(increments))
    return prices


@pytest.mark.parametrize("horizon", [1, 7])
def test_intervals_cover_their_level_on_a_fat_tailed_random_walk(horizon: int) -> None:
    series = fat_tailed_random_walk(2500)
    points = list(range(500, series.size - horizon, 4 * horizon))  # futures do not overlap
    inside: dict[float, list[float]] = {0.80: [], 0.95: []}
    for origin, forecast in forecasts_at_origins(
        lambda: AutoArima(order=(0, 1, 0)), series, horizon, points, refit_every=50
    ):
        future = series[origin : origin + horizon]
        for level, values in inside.items():
            values.append(metrics.coverage(future, forecast.lower[level], forecast.upper[level]))
    assert len(points) >= 70
    assert 0.76 <= np.mean(inside[0.80]) <= 0.84
    assert 0.93 <= np.mean(inside[0.95]) <= 0.97


def test_a_frozen_model_forecasts_as_the_fitted_one_and_keeps_its_order() -> None:
    series = random_walk(300)
    frozen = AutoArima().frozen(series[:250])
    fitted = AutoArima().forecast(series[:250], 7)
    again = frozen.forecast(series[:250], 7)
    np.testing.assert_allclose(again.mean, fitted.mean, rtol=1e-8)
    np.testing.assert_allclose(again.upper[0.95], fitted.upper[0.95], rtol=1e-8)
    assert frozen.forecast(series[:280], 7).params["order"] == fitted.params["order"]


def test_a_weak_drift_is_mostly_dropped_and_a_clear_one_kept() -> None:
    """The drift's Akaike weight against none: 1 / (1 + e) for changes that average exactly
    zero, near 1 for a trend many standard errors from zero; the model keeps that share of
    its ML drift."""
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.normal(0.0, 0.01, 500))
    flat = walk - np.linspace(0.0, walk[-1] - walk[0], walk.size)  # changes average zero
    assert drift_weight(flat, 1) == pytest.approx(1 / (1 + np.e))
    trend = np.cumsum(rng.normal(0.003, 0.01, 500))  # t about 6.7
    assert drift_weight(trend, 1) > 0.99
    for logs in (walk, trend):
        fitted, _order = AutoArima(order=(0, 1, 0)).fitted(logs)
        whole = AutoArima.fit(logs, (0, 1, 0)).params[0]  # from its own start: 1e-4 apart
        assert fitted.params[0] == pytest.approx(whole * drift_weight(logs, 1), rel=1e-3)


def test_each_origin_chooses_its_order_from_its_past_only() -> None:
    """Rewriting everything after an origin (here: a random walk turned into a strongly
    autocorrelated one, which changes the order selection would pick on the whole series)
    changes no forecast made at or before that origin, orders included."""
    series = random_walk(260)
    cut = 200
    tampered = series.copy()
    rng = np.random.default_rng(2)
    wild = np.zeros(series.size - cut)
    for t in range(1, wild.size):
        wild[t] = 0.9 * wild[t - 1] + rng.normal(0, 0.05)
    tampered[cut:] = series[cut - 1] * np.exp(np.cumsum(wild))
    assert (
        AutoArima().forecast(tampered, 7).params["order"]
        != AutoArima().forecast(series, 7).params["order"]
    )
    points = list(range(180, 254, 4))
    honest = dict(forecasts_at_origins(AutoArima, series, 7, points, refit_every=3))
    cheat = dict(forecasts_at_origins(AutoArima, tampered, 7, points, refit_every=3))
    for origin in (o for o in points if o <= cut):
        assert honest[origin].params["order"] == cheat[origin].params["order"]
        np.testing.assert_array_equal(honest[origin].mean, cheat[origin].mean)
        np.testing.assert_array_equal(honest[origin].lower[0.95], cheat[origin].lower[0.95])
    assert any(honest[o].params["order"] != cheat[o].params["order"] for o in points if o > cut)


def test_the_jobs_metrics_come_from_at_least_20_origins_of_a_short_history() -> None:
    """90 days (the demo's history) still give 20 origins, at most a week apart, scored by
    the whole procedure; the naive forecast is scored on the same origins."""
    closes = random_walk(90)
    make = partial(AutoArima, pegged=False)
    scores = evaluation_metrics(closes, make, "arima")
    assert scores["origins_7d"] == scores["naive_origins_7d"] == EVALUATION_ORIGINS >= 20
    assert evaluation_step(90, 7, 23) == 3
    assert evaluation_step(2000, 7, 23) == 7
    assert 0.0 <= scores["coverage80_7d"] <= scores["coverage95_7d"] <= 1.0


def garch_t_prices(n: int, seed: int = 3) -> np.ndarray:
    """Log returns from a GARCH(1, 1) with Student-t(5) shocks (persistence 0.98, 1.1% daily
    spread on average): volatility clusters and reverts, as a market's does."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(5, n) / np.sqrt(5 / 3)
    omega, alpha, beta = 2.4e-6, 0.08, 0.90
    variance, returns = omega / (1 - alpha - beta), np.empty(n)
    for t in range(n):
        returns[t] = np.sqrt(variance) * shocks[t]
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    prices: np.ndarray = 100.0 * np.exp(np.cumsum(returns))
    return prices


def test_30_day_intervals_cover_their_level_under_volatility_clustering() -> None:
    """The truth is known (a random walk with GARCH-t returns), 500-day windows as in the
    benchmark. Quantiles of the window's own 30-step errors (about 16 independent paths, and
    no drift estimation error) covered 77.8% / 92.7% here; simulated paths from all its
    one-step residuals, with the drift's error, cover 79.7% / 94.3%."""
    horizon, window = 30, 500
    inside: dict[float, list[np.ndarray]] = {0.80: [], 0.95: []}
    for seed in (3, 4):
        series = garch_t_prices(12_000, seed)
        points = list(range(window, series.size - horizon, 15))
        for origin, forecast in forecasts_at_origins(
            lambda: AutoArima(order=(0, 1, 0)),
            series,
            horizon,
            points,
            refit_every=100,
            window=window,
        ):
            future = series[origin : origin + horizon]
            for level, rows in inside.items():
                rows.append((future >= forecast.lower[level]) & (future <= forecast.upper[level]))
    assert 0.78 <= np.mean(inside[0.80]) <= 0.84
    assert 0.93 <= np.mean(inside[0.95]) <= 0.97
