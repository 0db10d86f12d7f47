"""The forecasting models on a plain pandas series: the S&P 500 closes shipped with ``arch``
(``arch.data.sp500``), not gold. The same forecasters, evaluation and signal backtests as the
jobs (the answers equal the job code's on the same numbers), kept fast: a short stretch, few
origins, a small LSTM."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from arch.data import sp500

from models.forecast.backtest import backtest_asset
from models.forecast.batch import make_forecaster
from models.forecast.forecasters import AutoArima, NaiveForecaster
from models.forecast.neural import EnsembleForecaster, LstmForecaster
from models.forecast.series import backtest_series, evaluate_series, forecast_series


@pytest.fixture(scope="module")
def closes() -> pd.Series:
    """The last 120 trading days of 2018 (a fall and a rebound), named like an asset."""
    data = sp500.load()
    return data["Adj Close"].iloc[-120:].rename("spx")


def test_arima_forecast_of_a_real_series_is_the_jobs_forecast(closes: pd.Series) -> None:
    table = forecast_series(closes, horizon=5)
    assert list(table.columns) == ["mean", "lower_80", "upper_80", "lower_95", "upper_95"]
    # business days in, a frequency pandas cannot infer (holidays): the next calendar days
    assert table.index[0] == pd.Timestamp("2019-01-01") and len(table) == 5
    job = make_forecaster("arima").forecast(closes.to_numpy(float), 5)
    assert table["mean"].to_numpy() == pytest.approx(job.mean)
    assert table["upper_95"].to_numpy() == pytest.approx(job.upper[0.95])
    assert (table["lower_95"] < table["lower_80"]).all()
    assert (table["lower_80"] < table["mean"]).all() and (table["mean"] < table["upper_80"]).all()
    # shuffled rows and a gap are read oldest first, NaN dropped
    shuffled = closes.sample(frac=1.0, random_state=1).copy()
    shuffled.iloc[3] = np.nan
    assert forecast_series(shuffled, 5).index[0] == pd.Timestamp("2019-01-01")


def test_lstm_and_ensemble_on_a_plain_series(closes: pd.Series) -> None:
    lstm = LstmForecaster(epochs=3)
    by_lstm = forecast_series(closes.reset_index(drop=True), horizon=3, model=lstm)
    assert list(by_lstm.index) == [120, 121, 122]  # positions continue an integer index
    assert np.isfinite(by_lstm.to_numpy()).all()
    pair = EnsembleForecaster([AutoArima(order=(0, 1, 0)), LstmForecaster(epochs=3)])
    together = forecast_series(closes, horizon=3, model=pair)
    assert (together["lower_95"] < together["upper_95"]).all()


def test_rolling_origin_evaluation_beside_naive(closes: pd.Series) -> None:
    metrics = evaluate_series(closes, AutoArima(order=(0, 1, 0)), origins=3)
    assert metrics["origins_7d"] == 3 == metrics["naive_origins_7d"]
    assert metrics["mase_7d"] > 0 and metrics["naive_mase_7d"] > 0
    assert 0.0 <= metrics["coverage95_7d"] <= 1.0
    assert evaluate_series(closes, NaiveForecaster(), origins=3)["mase_7d"] == pytest.approx(
        metrics["naive_mase_7d"]
    )


def test_signal_backtests_of_a_real_series(closes: pd.Series) -> None:
    mood = pd.Series([0.5, -0.5], index=closes.index[-2:])  # news on the last two days
    result = backtest_series(closes, mood, AutoArima(order=(0, 1, 0)), days=10)
    assert result.asset_id == "spx"
    assert result.last_day == dt.date(2018, 12, 31) and result.buy_and_hold.days == 9
    readings = {r.signal: r for r in result.readings}
    assert readings["sentiment"].direction == -1
    assert readings["risk"].inputs["date"] == "2018-12-31"
    values = closes.to_numpy(float)
    sentiment = mood.reindex(closes.index).to_numpy(float)
    dates = [t.date() for t in closes.index]
    same = backtest_asset("spx", values, sentiment, AutoArima(order=(0, 1, 0)), 10, dates)
    assert result.forecast == same.forecast and result.risk == same.risk
    with pytest.raises(ValueError, match="need 40"):
        backtest_series(closes.iloc[:30], days=10)
    with pytest.raises(ValueError, match="positive"):
        forecast_series(closes - 5000.0)
