"""Portfolio VaR and ES against independent computations on real returns (the S&P 500 and
NASDAQ of ``arch.data``, Microsoft from ``pmdarima``, as bench/var_backtest.py loads them):
the parametric figure against a hand-written RiskMetrics recursion with scipy's quantiles and
against ``arch``'s EWMA variance, the historical one against the engine's own single-asset
forecast and against its documented steps on a hand-built portfolio series; and the alignment
of closes with gaps."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models.risk import portfolio, tail
from models.risk.backtest import breaches, kupiec_pof
from models.risk.market import MIN_RETURNS
from models.risk.portfolio import (
    ShortHistoryError,
    historical_risk,
    joint_returns,
    parametric_risk,
    portfolio_returns,
    tail_risks,
)

#: Two years of trading days, what the risk engine reads.
WINDOW = 504


@pytest.fixture(scope="module")
def real() -> portfolio.JointReturns:
    """The three series' joint daily log returns (1999-2017)."""
    sp500 = pytest.importorskip("arch.data.sp500").load()["Adj Close"]
    nasdaq = pytest.importorskip("arch.data.nasdaq").load()["Adj Close"]
    msft = pytest.importorskip("pmdarima").datasets.load_msft()
    closes = {
        "sp500": sp500,
        "nasdaq": nasdaq,
        "msft": pd.Series(msft["Close"].to_numpy(), pd.to_datetime(msft["Date"])),
    }
    return joint_returns(
        {
            n: (s.index.to_numpy().astype("datetime64[D]"), s.to_numpy(float))
            for n, s in closes.items()
        }
    )


def windows(real: portfolio.JointReturns) -> list[np.ndarray]:
    """Three two-year windows: the dot-com fall, the 2008 crisis, the calm of 2017."""
    ends = [np.searchsorted(real.days, np.datetime64(d)) for d in ("2001-09-28", "2008-10-31")]
    return [real.returns[:, end - WINDOW : end] for end in [*ends, real.returns.shape[1]]]


def test_the_real_series_align_on_their_common_days(real: portfolio.JointReturns) -> None:
    assert real.assets == ("sp500", "nasdaq", "msft")
    assert str(real.days[0]) == "1999-01-05" and str(real.days[-1]) == "2017-11-10"
    assert real.returns.shape == (3, real.days.size) and np.isfinite(real.returns).all()
    # pmdarima's MSFT lacks 16 November 1999: that day is left out, its move folded into the
    # next return of all three
    assert real.gap_days == 1
    assert np.datetime64("1999-11-16") not in real.days


@pytest.mark.parametrize("student_t", [False, True])
def test_parametric_var_is_the_quantile_of_a_hand_computed_ewma_covariance(
    real: portfolio.JointReturns, student_t: bool
) -> None:
    weights = np.array([0.5, 0.3, 0.2])
    for returns in windows(real):
        # RiskMetrics written out as its recursion, one day at a time
        head = returns[:, : tail.SEED_RETURNS]
        cov = sum(np.outer(day, day) for day in head.T) / tail.SEED_RETURNS
        for day in returns.T:
            cov = tail.LAMBDA * cov + (1 - tail.LAMBDA) * np.outer(day, day)
        sigma = math.sqrt(weights @ cov @ weights)
        for level in portfolio.LEVELS:
            if student_t:
                unit = math.sqrt(3 / 5)
                q = stats.t.ppf(level, 5) * unit
                es = stats.t.expect(lambda x: x, args=(5,), lb=q / unit) / (1 - level) * unit
            else:
                q = stats.norm.ppf(level)
                es = stats.norm.expect(lambda x: x, lb=q) / (1 - level)
            risk = parametric_risk(returns, weights, level, student_t=student_t)
            assert risk.volatility == pytest.approx(sigma, rel=1e-10)
            assert risk.var == pytest.approx(sigma * q, rel=1e-8)
            assert risk.es == pytest.approx(sigma * es, rel=1e-6)


def test_parametric_volatility_matches_arch_ewma_variance(real: portfolio.JointReturns) -> None:
    univariate = pytest.importorskip("arch.univariate")
    weights = np.array([0.2, 0.2, 0.6])
    for returns in windows(real):
        # w' S w of the EWMA covariance is the EWMA variance of w' r: arch's RiskMetrics, in
        # percent (arch's preferred scale), seeded its own way (faded out after 504 days)
        model = univariate.ZeroMean(
            100 * (weights @ returns), volatility=univariate.EWMAVariance(tail.LAMBDA)
        )
        variance = model.fix([]).forecast(horizon=1, reindex=False).variance.iloc[-1, 0] / 1e4
        risk = parametric_risk(returns, weights, 0.99)
        assert risk.volatility**2 == pytest.approx(variance, rel=1e-9)


def test_a_single_asset_portfolio_is_the_asset_own_forecast(real: portfolio.JointReturns) -> None:
    msft = real.returns[2:3, -WINDOW:]
    for level in portfolio.LEVELS:
        own = tail.tail_forecast(msft[0], level)
        risk = historical_risk(msft, np.array([1.0]), level)
        assert (risk.var, risk.es, risk.volatility) == (own.var, own.es, own.volatility)
        assert risk.method == portfolio.HISTORICAL


def test_historical_var_follows_the_filtered_simulation_on_a_hand_built_portfolio(
    real: portfolio.JointReturns,
) -> None:
    # the portfolio's return, rebuilt from price paths: simple returns, held 60/40 each day
    returns = real.returns[:2, -WINDOW:]
    prices = pd.DataFrame(np.exp(np.cumsum(returns, axis=1)).T, columns=["sp500", "nasdaq"])
    simple = prices.pct_change().fillna(prices.iloc[0] - 1.0)
    series = np.log1p(0.6 * simple["sp500"] + 0.4 * simple["nasdaq"]).to_numpy()
    assert portfolio_returns(returns, np.array([0.6, 0.4])) == pytest.approx(series, abs=1e-12)
    # the documented steps: standardise by the EWMA forecast, a plain quantile of the losses,
    # shrunk toward the t5 prior, in tomorrow's volatility
    variance = tail.ewma_variance(series)
    losses = -series / np.sqrt(variance[:-1])
    weight = losses.size / (losses.size + tail.PRIOR_STRENGTH)
    for level in portfolio.LEVELS:
        prior, _ = tail.student_t_tail(level, tail.PRIOR_DOF)
        q = weight * np.quantile(losses, level) + (1 - weight) * prior
        risk = historical_risk(returns, np.array([0.6, 0.4]), level)
        assert risk.var == pytest.approx(math.sqrt(variance[-1]) * q, rel=1e-12)
        assert risk.es >= risk.var > 0


def test_diversification_and_the_ten_day_rule(real: portfolio.JointReturns) -> None:
    returns = real.returns[:, -WINDOW:]
    weights = np.full(3, 1 / 3)
    joint = portfolio.JointReturns(real.assets, real.days[-WINDOW:], returns, 0, {})
    risks = tail_risks(joint, weights)
    assert len(risks) == 3 * len(portfolio.LEVELS) * len(portfolio.HORIZONS)
    one = {(r.method, r.level): r for r in risks if r.horizon_days == 1}
    for r in risks:
        if r.horizon_days == 10:
            assert r.var == pytest.approx(math.sqrt(10) * one[r.method, r.level].var)
            assert r.horizon_method == portfolio.SQUARE_ROOT_OF_TIME
        assert 0 < r.var <= r.es and 0 < r.var_share < r.var  # a log loss is more than its share
    # the parametric VaR of the mix is below the weighted sum of the assets' own
    alone = sum(
        parametric_risk(returns[i : i + 1], np.array([1.0]), 0.99).var / 3 for i in range(3)
    )
    assert one[portfolio.PARAMETRIC_NORMAL, 0.99].var < alone


def test_gaps_are_left_out_never_filled() -> None:
    days = np.array(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"])
    a = np.array([100.0, 110.0, 121.0, 133.1, 146.41])
    b_days = np.delete(days, 2)  # no close on the 3rd; a weekday fund token, say
    b = np.array([1.0, 1.0, 1.01, 1.02])
    late = (days[1:], np.array([50.0, 0.0, 55.0, 60.0]))  # listed on the 2nd, a bad zero on the 3rd
    joint = joint_returns({"a": (days, a), "b": (b_days, b), "c": late})
    assert [str(d) for d in joint.days] == ["2026-01-04", "2026-01-05"]
    # a's return runs from the 2nd to the 4th: both its days folded into one, as b's
    assert joint.returns[:, 0] == pytest.approx(np.log([133.1 / 110.0, 1.01, 55.0 / 50.0]))
    assert joint.gap_days == 1  # the 3rd; the 1st is before c was listed, not a gap
    assert joint.closes == {"a": 5, "b": 4, "c": 4}
    twice = joint_returns({"a": (np.append(days, days[-1]), np.append(a, 150.0)), "c": late})
    assert twice.returns[0, -1] == pytest.approx(np.log(150.0 / 133.1))  # a day's last close
    empty = joint_returns({"a": (days, a), "z": (np.array([], "datetime64[D]"), np.array([]))})
    assert empty.returns.shape == (2, 0) and empty.gap_days == 0


def test_too_short_a_joint_history_names_the_asset() -> None:
    days = np.arange(np.datetime64("2026-01-01"), np.datetime64("2026-03-01"))
    rng = np.random.default_rng(3)
    closes = {
        "long": (days, np.exp(np.cumsum(rng.normal(0, 0.01, days.size)))),
        "new": (days[-10:], np.linspace(1.0, 1.1, 10)),
    }
    joint = joint_returns(closes)
    with pytest.raises(ShortHistoryError) as raised:
        tail_risks(joint, np.array([0.5, 0.5]))
    assert raised.value.returns == 9 < MIN_RETURNS
    assert "new (10 closes)" in str(raised.value) and "long (59 closes)" in str(raised.value)


@pytest.mark.parametrize(
    "weights", [[0.5, 0.6], [1.2, -0.2], [1.0], [0.5, 0.5, 0.0]], ids=["sum", "short", "n", "n+1"]
)
def test_weights_must_be_value_shares(weights: list[float]) -> None:
    returns = np.random.default_rng(4).normal(0, 0.01, (2, 100))
    with pytest.raises(ValueError, match="weights"):
        portfolio_returns(returns, np.array(weights))
    with pytest.raises(ValueError, match="weights"):
        parametric_risk(returns, np.array(weights), 0.99)


def test_the_served_method_passes_kupiec_on_the_last_five_years(
    real: portfolio.JointReturns,
) -> None:
    """The benchmark's check (bench/portfolio_var.py, 2001-2017) on its last 1,260 days."""
    days, weights = 1260, np.full(3, 1 / 3)
    returns = real.returns[:, -(days + WINDOW) :]
    losses = -portfolio_returns(returns, weights)[WINDOW:]
    for level in portfolio.LEVELS:
        var = np.array(
            [
                historical_risk(returns[:, t - WINDOW : t], weights, level).var
                for t in range(WINDOW, returns.shape[1])
            ]
        )
        hits = breaches(losses, var)
        assert kupiec_pof(hits, level).p_value >= 0.05, (level, hits.mean())
