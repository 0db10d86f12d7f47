"""Backtests of a day-by-day VaR and expected shortfall forecast against realised losses.

All functions are pure: they take the realised losses (positive = a loss) and the forecasts
made the day before, aligned day by day, and return a statistic and its p-value.

* :func:`kupiec_pof` -- Kupiec's (1995) proportion-of-failures test: is the breach rate the
  promised ``1 - level``? Likelihood ratio, chi-squared with 1 degree of freedom.
* :func:`christoffersen_independence` -- Christoffersen's (1998) test that a breach today does
  not make a breach tomorrow more (or less) likely: first-order Markov chain against
  independence, chi-squared with 1 degree of freedom.
* :func:`conditional_coverage` -- the two together (chi-squared, 2 degrees of freedom).
* :func:`exceedance_residual_test` -- McNeil and Frey's (2000) expected-shortfall test: on the
  breach days, the loss beyond the forecast ES, scaled, must average zero. One-sided (ES too
  small is the failure that matters), p-value from a bootstrap of the centred residuals as in
  the paper, with a fixed seed so a backtest is reproducible.

A test "passes" at the usual 5% size when its p-value is at least 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Bootstrap resamples of the exceedance-residual test, and its seed (reproducible p-values).
BOOTSTRAP_RESAMPLES = 5000
BOOTSTRAP_SEED = 20000


@dataclass(frozen=True, slots=True)
class TestResult:
    statistic: float
    p_value: float


def breaches(losses: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Days whose loss exceeded the VaR forecast for that day."""
    losses, var = _aligned(losses, var)
    return losses > var


def kupiec_pof(hits: np.ndarray, level: float) -> TestResult:
    """Kupiec's unconditional coverage test of a breach series ``hits`` (booleans) against
    the breach probability ``1 - level``."""
    expected = 1.0 - level
    days, count = hits.size, int(np.count_nonzero(hits))
    if days == 0:
        raise ValueError("a coverage test needs at least one day")
    observed = count / days
    statistic = -2.0 * (
        _bernoulli_loglik(count, days, expected) - _bernoulli_loglik(count, days, observed)
    )
    return TestResult(statistic, float(stats.chi2.sf(statistic, 1)))


def christoffersen_independence(hits: np.ndarray) -> TestResult:
    """Christoffersen's independence test: a Markov chain of breaches (the probability of a
    breach depends on whether yesterday had one) against a constant probability."""
    if hits.size < 2:
        raise ValueError("an independence test needs at least two days")
    before, after = hits[:-1], hits[1:]
    n00 = int(np.count_nonzero(~before & ~after))
    n01 = int(np.count_nonzero(~before & after))
    n10 = int(np.count_nonzero(before & ~after))
    n11 = int(np.count_nonzero(before & after))
    pooled = (n01 + n11) / (n00 + n01 + n10 + n11)
    after_calm = n01 / (n00 + n01) if n00 + n01 else 0.0
    after_breach = n11 / (n10 + n11) if n10 + n11 else 0.0
    constant = _bernoulli_loglik(n01 + n11, n00 + n01 + n10 + n11, pooled)
    markov = _bernoulli_loglik(n01, n00 + n01, after_calm) + _bernoulli_loglik(
        n11, n10 + n11, after_breach
    )
    statistic = max(0.0, -2.0 * (constant - markov))
    return TestResult(statistic, float(stats.chi2.sf(statistic, 1)))


def conditional_coverage(hits: np.ndarray, level: float) -> TestResult:
    """Christoffersen's joint test: the right breach rate and independent breaches."""
    statistic = kupiec_pof(hits, level).statistic
    statistic += christoffersen_independence(hits).statistic
    return TestResult(statistic, float(stats.chi2.sf(statistic, 2)))


def exceedance_residual_test(
    losses: np.ndarray, var: np.ndarray, es: np.ndarray, scale: np.ndarray | None = None
) -> TestResult:
    """McNeil-Frey test of the ES forecasts: on breach days the residuals
    ``(loss - ES) / scale`` have mean zero if the ES is right, a positive mean if it is too
    small. ``scale`` is the forecast's volatility; without one the ES itself is the scale (for
    a location-scale forecast with zero mean, ES is proportional to the volatility, so the
    test is the same). The statistic is the residuals' t-statistic; the p-value is the share
    of bootstrap t-statistics of the centred residuals at least as large (one-sided). With no
    breach there is no evidence against the ES: statistic 0, p-value 1."""
    losses, var = _aligned(losses, var)
    losses, es = _aligned(losses, es)
    scale = es if scale is None else _aligned(losses, scale)[1]
    hit = (losses > var) & (scale > 0)
    residuals = (losses[hit] - es[hit]) / scale[hit]
    if residuals.size < 2:
        return TestResult(0.0, 1.0)
    observed = _t_statistic(residuals)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    centred = residuals - residuals.mean()
    draws = rng.choice(centred, size=(BOOTSTRAP_RESAMPLES, centred.size), replace=True)
    boot = _t_statistics(draws)
    p_value = (np.count_nonzero(boot >= observed) + 1) / (BOOTSTRAP_RESAMPLES + 1)
    return TestResult(observed, float(p_value))


def _t_statistic(values: np.ndarray) -> float:
    return float(_t_statistics(values[np.newaxis, :])[0])


def _t_statistics(rows: np.ndarray) -> np.ndarray:
    """The one-sample t-statistic of each row; a row without spread scores its mean's sign
    times infinity (0 when the mean is 0)."""
    means = rows.mean(axis=1)
    spreads = rows.std(axis=1, ddof=1) / math.sqrt(rows.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(
            spreads > 0, means / np.where(spreads > 0, spreads, 1.0), np.sign(means) * np.inf
        )
    return np.asarray(np.nan_to_num(t, nan=0.0, posinf=np.inf, neginf=-np.inf))


def _bernoulli_loglik(successes: int, trials: int, probability: float) -> float:
    """Log-likelihood of ``successes`` in ``trials`` with the convention 0 * log(0) = 0."""
    total = 0.0
    if successes:
        total += successes * math.log(probability)
    if trials - successes:
        total += (trials - successes) * math.log(1.0 - probability)
    return total


def _aligned(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.asarray(first, float), np.asarray(second, float)
    if first.shape != second.shape:
        raise ValueError(f"series differ in length: {first.shape} vs {second.shape}")
    return first, second
