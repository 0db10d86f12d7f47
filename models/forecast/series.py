"""The forecasting models on plain data: any pandas series of prices, not only gold.

Thin, typed wrappers over the code the jobs run -- the same forecasters
(:func:`~models.forecast.batch.make_forecaster`), the same rolling-origin evaluation beside the
naive forecast (:func:`~models.forecast.batch.evaluation_metrics`) and the same signal backtests
(:func:`~models.forecast.backtest.backtest_asset`) -- that take a :class:`pandas.Series` and
answer with pandas. A series is read oldest first: sorted by its index, missing values dropped;
prices must be positive. Examples: docs/forecasting.md ("On your own data").
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from models.forecast.backtest import DEFAULT_DAYS, AssetBacktest, backtest_asset
from models.forecast.batch import EVALUATION_ORIGINS, evaluation_metrics, make_forecaster
from models.forecast.forecasters import Forecaster
from models.forecast.intervals import LEVELS
from pipelines.core.settings import ForecastModel

#: A model by name (``"arima"``, ``"lstm"``, ``"ensemble"``) or a forecaster built by hand
#: (e.g. ``LstmForecaster(epochs=20)``, ``AutoArima(order=(1, 1, 0))``).
ModelSpec = ForecastModel | Forecaster


def prices_of(series: pd.Series) -> np.ndarray:
    """The values of ``series`` as positive floats, oldest first (sorted by index, NaN
    dropped); a ValueError names what is wrong."""
    clean = series.dropna().sort_index().astype(float)
    if clean.size < 2:
        raise ValueError(f"a price series needs at least two values, got {clean.size}")
    values = clean.to_numpy()
    if (values <= 0).any():
        raise ValueError("prices must be positive (pass prices, not returns)")
    return values


def forecaster_of(model: ModelSpec, *, pegged: bool = False) -> Forecaster:
    """``model`` itself, or the job's forecaster of that name (``pegged``: a $1-pegged asset,
    which ARIMA does not difference)."""
    return model if isinstance(model, Forecaster) else make_forecaster(model, pegged)


def forecast_series(
    series: pd.Series, horizon: int = 7, model: ModelSpec = "arima", *, pegged: bool = False
) -> pd.DataFrame:
    """Fit ``model`` on the whole ``series`` and forecast ``horizon`` steps: one row per step
    with ``mean``, ``lower_80``, ``upper_80``, ``lower_95`` and ``upper_95``. The index
    continues the series' own: dates a day apart (or at its inferred frequency) after a
    DatetimeIndex, else the next integer positions."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    made = forecaster_of(model, pegged=pegged).forecast(prices_of(series), horizon)
    columns: dict[str, np.ndarray] = {"mean": made.mean}
    for level in LEVELS:
        percent = round(level * 100)
        columns[f"lower_{percent}"] = made.lower[level]
        columns[f"upper_{percent}"] = made.upper[level]
    return pd.DataFrame(columns, index=_future_index(series.dropna().sort_index(), horizon))


def _future_index(series: pd.Series, horizon: int) -> pd.Index:
    if isinstance(series.index, pd.DatetimeIndex):
        step = pd.infer_freq(series.index) if series.size >= 3 else None
        return pd.date_range(series.index[-1], periods=horizon + 1, freq=step or "D")[1:]
    return pd.RangeIndex(series.size, series.size + horizon)


def evaluate_series(
    series: pd.Series,
    model: ModelSpec = "arima",
    *,
    origins: int = EVALUATION_ORIGINS,
    pegged: bool = False,
) -> dict[str, float]:
    """The rolling-origin evaluation the forecast job registers with each model: MAE, RMSE,
    sMAPE, MASE and 80%/95% interval coverage at 7 steps over up to ``origins`` origins, the
    model learnt from each origin's past only, beside the naive forecast's on the same origins
    (``naive_*``). Keys as in the model registry: ``mase_7d``, ``coverage95_7d``, ..."""
    name: ForecastModel
    if isinstance(model, Forecaster):
        # evaluation_metrics reads the name for its training minimum: the LSTM's for any
        # forecaster that holds one
        name = "lstm" if model.name in ("lstm", "ensemble") else "arima"
    else:
        name = model
    return evaluation_metrics(
        prices_of(series), lambda: forecaster_of(model, pegged=pegged), name, origins
    )


def backtest_series(
    closes: pd.Series,
    sentiment: pd.Series | None = None,
    model: ModelSpec = "arima",
    *,
    days: int = DEFAULT_DAYS,
) -> AssetBacktest:
    """The signal backtests of ``rwa backtest`` on ``closes``: buy-and-hold beside the forecast,
    sentiment and risk signals over the last ``days`` values (the series needs ``days + 30``),
    with each signal's reading on the last day. ``sentiment`` (scores in -1..1) is aligned on
    the closes' index, missing days counting as no news; without it the sentiment signal stays
    flat. Inputs are dated when the index holds dates."""
    clean = closes.dropna().sort_index()
    values = prices_of(clean)
    mood = np.full(values.size, np.nan)
    if sentiment is not None:
        mood = sentiment.reindex(clean.index).to_numpy(float)
    dates: list[dt.date] | None = None
    if isinstance(clean.index, pd.DatetimeIndex):
        dates = [stamp.date() for stamp in clean.index]
    name = str(closes.name) if closes.name is not None else "series"
    return backtest_asset(name, values, mood, forecaster_of(model), days, dates)
