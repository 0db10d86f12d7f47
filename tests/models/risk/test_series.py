"""The risk model's market measures on a plain pandas series: two years of S&P 500 closes from
``arch.data.sp500`` (not gold), the same functions the risk job runs, and Amihud's illiquidity
checked by hand on a tiny series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from arch.data import sp500

from models.risk.market import MarketHistory, market_factors
from models.risk.series import amihud_illiquidity, log_returns, market_measures, tail_risk
from models.risk.tail import tail_forecast


@pytest.fixture(scope="module")
def sp() -> pd.DataFrame:
    return sp500.load().iloc[-504:]  # 2017-2018: a calm year, then February and December


def test_var_and_es_of_real_returns_are_the_jobs(sp: pd.DataFrame) -> None:
    returns = log_returns(sp["Adj Close"])
    assert len(returns) == 503
    assert returns.iloc[0] == pytest.approx(
        math.log(sp["Adj Close"].iloc[1] / sp["Adj Close"].iloc[0])
    )
    at99 = tail_risk(returns, 0.99)
    assert at99 == tail_forecast(returns.to_numpy(), 0.99)
    assert 0.01 < at99.var < at99.es < 0.12  # December 2018's turmoil
    assert tail_risk(returns, 0.95).var < at99.var
    with pytest.raises(ValueError, match="level"):
        tail_risk(returns, 1.5)


def test_market_measures_of_a_real_series(sp: pd.DataFrame) -> None:
    # to the end of November: 30 calendar days of December hold only 19 trading days, too
    # few for Amihud's 20, as in gold
    sp = sp.loc[:"2018-11-30"]
    dollar_volume = sp["Adj Close"] * sp["Volume"]
    measures = market_measures(
        sp["Adj Close"], high=sp["High"], low=sp["Low"], dollar_volume=dollar_volume
    )
    close = sp["Adj Close"].to_numpy(float)
    history = MarketHistory(
        close, sp["High"].to_numpy(float), sp["Low"].to_numpy(float), measures.amihud, None, None
    )
    assert measures.factors == tuple(market_factors(history, pegged=False))
    vol, var, es = measures.volatility_annualised, measures.var_95_1d, measures.es_975_1d
    assert vol is not None and var is not None and es is not None
    assert 0.10 < vol < 0.40 and 0 < var < es
    assert measures.max_drawdown is not None and 0.05 < measures.max_drawdown < 0.25
    assert measures.amihud is not None and measures.amihud < 1e-6  # the deepest market there is
    assert 1 <= measures.market_score <= 100
    assert market_measures(sp["Adj Close"]).amihud is None  # no volume: liquidity unknown
    assert (
        market_measures(sp["Adj Close"], dollar_volume=dollar_volume.loc[:"2018-10-25"]).amihud
        is None
    )


def test_amihud_by_hand() -> None:
    days = pd.date_range("2026-01-01", periods=41, freq="D")
    prices = pd.Series(100.0 * 1.01 ** np.arange(41), index=days)  # +1% a day
    volume = pd.Series(2e6, index=days)  # $2M a day: 1% per $2M = 0.5% per $1M
    assert amihud_illiquidity(prices, volume) == pytest.approx(0.005)
    quiet = volume.copy()
    quiet.iloc[-15:] = 0.0  # 15 of the last 30 days did not trade: too few left (< 20)
    assert amihud_illiquidity(prices, quiet) is None
