"""VaR and ES backtests against textbook values and synthetic series whose truth is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from models.risk.backtest import (
    breaches,
    christoffersen_independence,
    conditional_coverage,
    exceedance_residual_test,
    kupiec_pof,
)


def hits(days: int, count: int) -> np.ndarray:
    series = np.zeros(days, dtype=bool)
    series[:count] = True
    return series


@pytest.mark.parametrize(
    ("days", "level", "lowest", "highest"),
    [
        # Kupiec (1995) / Jorion, "Value at Risk", table of non-rejection regions at 95%
        (255, 0.99, 1, 6),
        (510, 0.99, 2, 10),
        (1000, 0.99, 5, 16),
        (255, 0.95, 7, 20),
        (510, 0.95, 17, 35),
        (1000, 0.95, 38, 64),
    ],
)
def test_kupiec_matches_the_textbook_non_rejection_regions(
    days: int, level: float, lowest: int, highest: int
) -> None:
    assert kupiec_pof(hits(days, lowest), level).p_value >= 0.05
    assert kupiec_pof(hits(days, highest), level).p_value >= 0.05
    assert kupiec_pof(hits(days, lowest - 1), level).p_value < 0.05
    assert kupiec_pof(hits(days, highest + 1), level).p_value < 0.05


def test_kupiec_statistic_is_the_likelihood_ratio() -> None:
    # 10 breaches in 250 days against 1%: LR = -2 ln[(0.99^240 0.01^10) / (0.96^240 0.04^10)]
    expected = -2 * (
        240 * math.log(0.99) + 10 * math.log(0.01) - 240 * math.log(0.96) - 10 * math.log(0.04)
    )
    result = kupiec_pof(hits(250, 10), 0.99)
    assert result.statistic == pytest.approx(expected)
    assert result.p_value == pytest.approx(stats.chi2.sf(expected, 1))


def test_christoffersen_independence_on_a_hand_counted_series() -> None:
    series = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    # transitions: n00 = 10, n01 = 3, n10 = 3, n11 = 3
    constant = 6 * math.log(6 / 19) + 13 * math.log(13 / 19)
    markov = 3 * math.log(3 / 13) + 10 * math.log(10 / 13) + 6 * math.log(0.5)
    result = christoffersen_independence(series)
    assert result.statistic == pytest.approx(-2 * (constant - markov))
    joint = conditional_coverage(series, 0.95)
    assert joint.statistic == pytest.approx(kupiec_pof(series, 0.95).statistic + result.statistic)
    assert joint.p_value == pytest.approx(stats.chi2.sf(joint.statistic, 2))


def test_a_correct_var_on_iid_normal_returns_passes_every_test() -> None:
    rng = np.random.default_rng(11)
    losses = rng.normal(0.0, 0.01, 5000)
    for level in (0.95, 0.99):
        q = stats.norm.ppf(level)
        var = np.full(losses.size, 0.01 * q)
        es = np.full(losses.size, 0.01 * stats.norm.pdf(q) / (1 - level))
        hit = breaches(losses, var)
        assert kupiec_pof(hit, level).p_value >= 0.05
        assert christoffersen_independence(hit).p_value >= 0.05
        assert conditional_coverage(hit, level).p_value >= 0.05
        assert exceedance_residual_test(losses, var, es).p_value >= 0.05


def test_a_too_small_var_or_es_is_rejected() -> None:
    rng = np.random.default_rng(12)
    losses = rng.normal(0.0, 0.01, 5000)
    q = stats.norm.ppf(0.99)
    small_var = np.full(losses.size, 0.01 * stats.norm.ppf(0.97))  # a 97% VaR sold as 99%
    assert kupiec_pof(breaches(losses, small_var), 0.99).p_value < 1e-6
    right_var = np.full(losses.size, 0.01 * q)
    small_es = right_var * 1.02  # barely above the VaR: the tail beyond it is ignored
    assert exceedance_residual_test(losses, right_var, small_es).p_value < 0.01


def test_clustered_breaches_fail_independence_even_at_the_right_rate() -> None:
    # 1% of days breached, but always two days in a row
    series = np.zeros(4000, dtype=bool)
    for start in range(50, 4000, 200):
        series[start : start + 2] = True
    assert kupiec_pof(series, 0.99).p_value >= 0.05
    assert christoffersen_independence(series).p_value < 1e-6
    assert conditional_coverage(series, 0.99).p_value < 1e-6


def test_no_breach_is_no_evidence_against_the_es() -> None:
    losses = np.array([0.01, -0.02, 0.005])
    result = exceedance_residual_test(losses, np.full(3, 0.05), np.full(3, 0.07))
    assert result.p_value == 1.0


def test_series_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        breaches(np.zeros(3), np.zeros(4))
