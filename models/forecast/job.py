"""One asset's forecasting job, wherever it runs (the step's process, a worker process of
:mod:`models.forecast.processes`, a Spark executor of :mod:`models.forecast.distributed`): the
forecaster chosen for it, its 30-day forecast and its rolling-origin evaluation
(:class:`AssetJob`). A module of its own, importing only what a fit needs (numpy, scipy,
statsmodels; not the lake, the registry or Arrow), since every worker imports it before its
first asset. The step around it is :mod:`models.forecast.batch`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from models.forecast.evaluation import rolling_origin
from models.forecast.forecasters import AutoArima, Forecast, Forecaster, NaiveForecaster
from models.forecast.neural import EnsembleForecaster, LstmForecaster

if TYPE_CHECKING:
    from pipelines.contracts.reference import Asset
    from pipelines.core.settings import ForecastModel

HORIZONS = (7, 30)
MIN_HISTORY = 30
EVALUATION_ORIGINS = 20
EVALUATION_MAX_STEP = 7
#: Origins between two order selections in the evaluation: one selection per asset, at the
#: first origin from its past, run forward frozen over the other 19 (a second selection cost
#: a third of the demo's forecasting time and changed little over at most 19 weeks).
REFIT_EVERY = EVALUATION_ORIGINS
#: BLAS threads while an asset is fitted. An ARIMA fit makes thousands of BLAS/LAPACK calls on
#: matrices of a few rows (statsmodels' Kalman filter, scipy's optimisers); OpenBLAS wakes its
#: thread pool for each, which costs far more than the arithmetic, and on a busy machine the
#: threads wait for cores: with the default pool (one thread per core) the demo's 27 assets
#: took 69-113 s on a loaded 2-core machine, with one thread 19-23 s, the same bits out.
#: Parallelism comes from fitting assets side by side (worker processes, Spark executors), not
#: from BLAS.
BLAS_THREADS = 1
#: The LSTM trains on at least 8 windows of its input length plus the longest horizon.
LSTM_MIN_TRAIN = 30 + max(HORIZONS) + 8
#: Below this many days an asset is forecast by ARIMA alone (the LSTM's evaluation needs its
#: training days before the oldest of the origins, a day apart at least).
LSTM_MIN_DAYS = LSTM_MIN_TRAIN + HORIZONS[0] + EVALUATION_ORIGINS - 1


@dataclass(frozen=True)
class AssetJob:
    """What the job does to one asset's history, the same in the driver and in a Spark
    executor: the model asked for, the LSTM's minimum history and the evaluation origins."""

    model: ForecastModel = "arima"
    min_days: int = LSTM_MIN_DAYS
    origins: int = EVALUATION_ORIGINS

    def run(
        self,
        dates: Sequence[dt.date],
        closes: np.ndarray,
        pegged: bool,
        order: tuple[int, int, int] | None = None,
        extra: np.ndarray | None = None,
    ) -> AssetForecast:
        """The 30-day forecast of the whole history (``order`` kept when given) and its
        rolling-origin metrics; no forecast for a history under :data:`MIN_HISTORY` days."""
        if closes.size < MIN_HISTORY:
            return AssetForecast(self.model, closes.size, None, None, {})
        chosen = _chosen_model(self.model, closes.size, self.min_days)
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            forecast = make_forecaster(chosen, pegged, order, extra).forecast(closes, max(HORIZONS))
            # the evaluation selects the order from each origin's past, never the registered one
            make = partial(make_forecaster, chosen, pegged, None, extra)
            metrics = evaluation_metrics(closes, make, chosen, self.origins)
        return AssetForecast(chosen, closes.size, dates[-1], forecast, metrics)


@dataclass(frozen=True)
class AssetInput:
    """What :meth:`AssetJob.run` reads of one asset: its daily closes by date, whether it is
    pegged, the order to keep (None: select one) and the LSTM's extra features."""

    asset_id: str
    dates: list[dt.date]
    closes: np.ndarray
    pegged: bool
    order: tuple[int, int, int] | None = None
    extra: np.ndarray | None = None

    def arguments(
        self,
    ) -> tuple[list[dt.date], np.ndarray, bool, tuple[int, int, int] | None, np.ndarray | None]:
        return self.dates, self.closes, self.pegged, self.order, self.extra


@dataclass(frozen=True)
class AssetForecast:
    """One asset's outcome: the model used, the days of history, and (with enough of them)
    the last day, the forecast and its evaluation metrics."""

    model: ForecastModel
    days: int
    last_day: dt.date | None
    forecast: Forecast | None
    metrics: dict[str, float]


def is_pegged(asset: Asset) -> bool:
    """A stablecoin reverts to its peg: modelled in levels (see ``level_differences``)."""
    return asset.asset_class == "stablecoin"


def _chosen_model(model: ForecastModel, days: int, min_days: int) -> ForecastModel:
    """``model``, or ARIMA for a history too short to train the LSTM on 30-day targets."""
    return "arima" if model != "arima" and days < min_days else model


def make_forecaster(
    model: ForecastModel,
    pegged: bool = False,
    order: tuple[int, int, int] | None = None,
    exogenous: np.ndarray | None = None,
) -> Forecaster:
    """The forecaster the job uses for ``model``: ARIMA (its ``order`` fixed, else chosen;
    ``pegged``: no differencing), the LSTM (with ``exogenous`` features aligned with the
    history), or their ensemble."""
    arima = AutoArima(pegged=pegged, order=order)
    if model == "arima":
        return arima
    lstm = LstmForecaster(exogenous=exogenous)
    return lstm if model == "lstm" else EnsembleForecaster([arima, lstm])


def evaluation_metrics(
    closes: np.ndarray,
    make: Callable[[], Forecaster],
    model: ForecastModel,
    origins: int = EVALUATION_ORIGINS,
) -> dict[str, float]:
    """Rolling-origin metrics at 7 days of the whole procedure (see the module doc), and of the
    naive forecast, over the same (up to ``origins``) origins."""
    horizon = HORIZONS[0]
    min_train = MIN_HISTORY - horizon if model == "arima" else LSTM_MIN_TRAIN
    step = evaluation_step(closes.size, horizon, min_train, origins)
    common = {"count": origins, "step": step, "min_train": min_train}
    ours = rolling_origin(make, closes, horizon, refit_every=REFIT_EVERY, **common)
    naive = rolling_origin(NaiveForecaster(), closes, horizon, **common)
    return ours.as_metrics() | {f"naive_{k}": v for k, v in naive.as_metrics().items()}


def evaluation_step(
    length: int, horizon: int, min_train: int, origins: int = EVALUATION_ORIGINS
) -> int:
    """Days between evaluation origins: :data:`EVALUATION_MAX_STEP`, or less so that
    ``origins`` origins fit in a short history (at least 1)."""
    room = (length - horizon - min_train) // max(1, origins - 1)
    return max(1, min(EVALUATION_MAX_STEP, room))
