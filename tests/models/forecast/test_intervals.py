"""The interval computations of every forecaster, on small inputs with known answers."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from models.forecast.intervals import (
    LEVELS,
    averaged_intervals,
    empirical_intervals,
    flat_intervals,
    quantile_intervals,
    simulated_errors,
    standardized_quantiles,
)


def test_flat_bands_have_no_width() -> None:
    lower, upper = flat_intervals(1.0, 5)
    for level in LEVELS:
        assert np.array_equal(lower[level], np.ones(5)) and np.array_equal(upper[level], np.ones(5))


def test_empirical_bands_nest_and_contain_the_last_value() -> None:
    history = np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, 300)))
    lower, upper = empirical_intervals(history, 10)
    assert np.all(lower[0.95] <= lower[0.80]) and np.all(upper[0.80] <= upper[0.95])
    assert np.all(lower[0.80] < history[-1]) and np.all(history[-1] < upper[0.80])


def test_too_few_residuals_give_gaussian_quantiles() -> None:
    errors = simulated_errors(np.full(50, 0.01), np.ones(3))
    assert errors is None
    low, high = standardized_quantiles(errors, 3, 0.95)
    z = NormalDist().inv_cdf(0.975)
    assert np.allclose(low, -z) and np.allclose(high, z)


def test_quantile_bands_take_their_columns() -> None:
    quantiles = np.log(np.array([[0.8, 0.9, 1.0, 1.1, 1.2]]))
    lower, upper = quantile_intervals(10.0, quantiles)
    assert np.allclose(lower[0.95], 8.0) and np.allclose(upper[0.95], 12.0)
    assert np.allclose(lower[0.80], 9.0) and np.allclose(upper[0.80], 11.0)


def test_ensemble_bands_are_the_geometric_mean_of_the_members() -> None:
    a = {level: np.array([1.0]) for level in LEVELS}
    b = {level: np.array([4.0]) for level in LEVELS}
    lower, upper = averaged_intervals([a, b], [b, b])
    assert np.allclose(lower[0.80], 2.0) and np.allclose(upper[0.95], 4.0)
