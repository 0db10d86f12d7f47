"""The quantile LSTM and the ensemble: reproducible, ordered quantiles, no look-ahead through
exogenous features, and the ensemble as the log-space mean of its members."""

from __future__ import annotations

import numpy as np
import pytest

from models.forecast.forecasters import AutoArima, NaiveForecaster
from models.forecast.neural import EnsembleForecaster, LstmForecaster


def trending(n: int = 160, drift: float = 0.01, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.004, n)))


def test_a_seeded_fit_is_reproducible_and_its_quantiles_are_ordered() -> None:
    series = trending()
    first = LstmForecaster(epochs=40).forecast(series, 7)
    second = LstmForecaster(epochs=40).forecast(series, 7)
    np.testing.assert_allclose(first.mean, second.mean)
    for level in (0.80, 0.95):
        assert np.all(first.lower[level] <= first.mean) and np.all(first.mean <= first.upper[level])
    assert np.all(first.lower[0.95] <= first.lower[0.80])
    assert np.all(first.upper[0.80] <= first.upper[0.95])


def test_it_learns_a_trend() -> None:
    up = LstmForecaster(epochs=80).forecast(trending(drift=0.01), 7)
    down = LstmForecaster(epochs=80).forecast(trending(drift=-0.01), 7)
    assert up.mean[-1] > up.mean[0] and down.mean[-1] < down.mean[0]


def test_future_exogenous_rows_change_nothing() -> None:
    series = trending(120)
    exogenous = np.random.default_rng(0).normal(size=(200, 2))  # rows beyond the history
    tampered = exogenous.copy()
    tampered[120:] = 99.0
    a = LstmForecaster(epochs=20, exogenous=exogenous).forecast(series, 7)
    b = LstmForecaster(epochs=20, exogenous=tampered).forecast(series, 7)
    np.testing.assert_allclose(a.mean, b.mean)


def test_too_little_history_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="training windows"):
        LstmForecaster().forecast(trending(40), 7)


def test_the_ensemble_is_the_log_mean_of_its_members() -> None:
    series = trending(150)
    members = [AutoArima(), NaiveForecaster()]
    combined = EnsembleForecaster(members).forecast(series, 7)
    parts = [m.forecast(series, 7) for m in members]
    np.testing.assert_allclose(combined.mean, np.sqrt(parts[0].mean * parts[1].mean))
    np.testing.assert_allclose(
        combined.upper[0.95], np.sqrt(parts[0].upper[0.95] * parts[1].upper[0.95])
    )
