"""The forecasting step: a 30-day forecast path per asset from ``gold/ohlcv_1d``, kept as the
7- and 30-day horizons in ``gold/predictions``, with each fitted model's artefact and
evaluation metrics in the model registry.

Per asset with enough history (``MIN_HISTORY`` days):
:class:`~models.forecast.forecasters.AutoArima` (log prices with d = 1; levels with d = 0 for
stablecoins, which revert to their peg) picks its order on the whole history and forecasts 30
days. Its metrics come from a rolling-origin
evaluation at the 7-day horizon over the last ``EVALUATION_ORIGINS`` origins (up to 7 days
apart, closer on a short history) in which the whole procedure -- order selection included --
sees only each origin's past: the order and coefficients are chosen afresh every
``REFIT_EVERY`` origins and run forward, frozen, in between. The naive forecast is scored on the
same origins, and both sets of metrics (with the number of origins) are saved with the
artefact. ``generated_at`` is the end of the last daily bar, and the artefact's version is
derived from it and the fitted parameters, so rerunning on the same data rewrites nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from models.forecast.forecasters import Forecast
from models.forecast.intervals import LEVELS
from models.forecast.job import EVALUATION_ORIGINS as EVALUATION_ORIGINS
from models.forecast.job import HORIZONS as HORIZONS
from models.forecast.job import LSTM_MIN_DAYS as LSTM_MIN_DAYS
from models.forecast.job import MIN_HISTORY as MIN_HISTORY
from models.forecast.job import AssetForecast as AssetForecast
from models.forecast.job import AssetInput as AssetInput
from models.forecast.job import AssetJob as AssetJob
from models.forecast.job import evaluation_metrics as evaluation_metrics
from models.forecast.job import evaluation_step as evaluation_step
from models.forecast.job import is_pegged as is_pegged
from models.forecast.job import make_forecaster as make_forecaster
from models.inputs import gold_frame
from models.registry import ModelRegistry
from pipelines.contracts.gold import PREDICTIONS
from pipelines.contracts.reference import Asset
from pipelines.contracts.served import PREDICTIONS_SCHEMA
from pipelines.core.errors import NotFoundError
from pipelines.core.settings import ForecastModel
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PREDICTIONS_TABLE = PREDICTIONS.name
KEYS = PREDICTIONS.key


@dataclass
class ForecastRunReport:
    forecasts: dict[str, str] = field(default_factory=dict)  # asset_id -> model version label
    skipped: dict[str, str] = field(default_factory=dict)  # asset_id -> why
    #: Assets forecast by ARIMA although another model was asked for -> why.
    fallbacks: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    rows_written: int = 0


def forecast_lake(
    lake: DeltaLake,
    paths: LakePaths,
    assets: Sequence[Asset],
    registry: ModelRegistry,
    *,
    reselect: bool = True,
    model: ForecastModel = "arima",
    min_days: int = LSTM_MIN_DAYS,
    origins: int = EVALUATION_ORIGINS,
    spark: SparkSession | None = None,
    processes: int = 1,
) -> ForecastRunReport:
    """Forecast every asset with enough history. ``reselect`` chooses each model's order
    afresh (the weekly retraining); without it the order of the asset's latest registered model
    is kept and only its coefficients are re-estimated on the new data (the daily run).
    ``origins``: evaluation origins per asset (fewer make a quicker, coarser evaluation).
    With ``spark``, ARIMA assets are fitted in Spark executors, a group per asset
    (:mod:`models.forecast.distributed`); the LSTM and the ensemble run in the driver (torch
    need not be installed on executors). Without it, ARIMA assets are fitted ``processes`` at
    a time on this machine, this process included (:mod:`models.forecast.processes`; 1: one
    after another here). Registry and table writes stay in the driver."""
    job = AssetJob(model, min_days, origins)
    orders: dict[str, tuple[int, int, int] | None] = {}
    if not reselect:
        orders = {asset.asset_id: _registered_order(registry, asset.asset_id) for asset in assets}
    if spark is not None and model == "arima":
        from models.forecast.distributed import forecast_on_spark

        frame = lake.to_spark(spark, _gold_daily(lake, paths))
        results = forecast_on_spark(spark, frame, assets, orders, job)
    else:
        results = _forecast_in_driver(lake, paths, assets, orders, job, processes)
    return _register(lake, paths, assets, registry, results, job, orders)


def _forecast_in_driver(
    lake: DeltaLake,
    paths: LakePaths,
    assets: Sequence[Asset],
    orders: dict[str, tuple[int, int, int] | None],
    job: AssetJob,
    processes: int = 1,
) -> dict[str, AssetForecast]:
    """:meth:`AssetJob.run` per asset: one after another in this process, or (ARIMA, with
    ``processes`` > 1) side by side in this process and worker processes
    (:mod:`models.forecast.processes`), the same outcomes either way."""
    frame = _daily_closes(lake, paths)
    exogenous = _exogenous(lake, paths) if job.model != "arima" else None
    inputs = []
    for asset in assets:
        bars = frame[frame["asset_id"] == asset.asset_id]
        extra = None if exogenous is None else _aligned(exogenous, asset.asset_id, bars["date"])
        inputs.append(
            AssetInput(
                asset.asset_id,
                list(bars["date"]),
                bars["close"].to_numpy(float),
                is_pegged(asset),
                orders.get(asset.asset_id),
                extra,
            )
        )
    if processes > 1 and job.model == "arima":
        from models.forecast.processes import forecast_in_processes

        return forecast_in_processes(inputs, job, processes)
    return {asset.asset_id: job.run(*asset.arguments()) for asset in inputs}


def _register(
    lake: DeltaLake,
    paths: LakePaths,
    assets: Sequence[Asset],
    registry: ModelRegistry,
    results: dict[str, AssetForecast],
    job: AssetJob,
    orders: dict[str, tuple[int, int, int] | None],
) -> ForecastRunReport:
    """Save each forecast's model with its metrics and merge its rows into
    ``gold/predictions``; assets without a forecast are reported skipped."""
    report = ForecastRunReport()
    tables = []
    for asset in assets:
        result = results.get(asset.asset_id) or AssetForecast(job.model, 0, None, None, {})
        forecast, last_day = result.forecast, result.last_day
        if forecast is None or last_day is None:
            report.skipped[asset.asset_id] = f"{result.days} daily bars (< {MIN_HISTORY})"
            continue
        if result.model != job.model:
            report.fallbacks[asset.asset_id] = (
                f"{result.days} days (< {job.min_days} for the LSTM): ARIMA used"
            )
        generated_at = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), dt.UTC)
        reselected = orders.get(asset.asset_id) is None
        saved = registry.save(
            f"{result.model}-{asset.asset_id}",
            {"model.json": json.dumps(_artefact(forecast, last_day, result.days)).encode()},
            metrics=result.metrics,
            params={"pegged": is_pegged(asset), "reselected": reselected, **forecast.params},
            created_at=generated_at,
        )
        report.forecasts[asset.asset_id] = saved.label
        report.metrics[asset.asset_id] = result.metrics
        tables.append(
            prediction_rows(asset.asset_id, forecast, last_day, generated_at, saved.label)
        )
    if tables:
        rows = pa.concat_tables(tables)
        lake.merge(rows, paths.gold(PREDICTIONS_TABLE), keys=KEYS, update_when=None)
        report.rows_written = rows.num_rows
    return report


def _gold_daily(lake: DeltaLake, paths: LakePaths) -> str:
    uri = paths.gold("ohlcv_1d")
    if not lake.exists(uri):
        raise NotFoundError(f"no gold/ohlcv_1d at {uri}: run rwa gold first")
    return uri


def _daily_closes(lake: DeltaLake, paths: LakePaths) -> pd.DataFrame:
    """``asset_id``, ``date``, ``close`` of ``gold/ohlcv_1d``, by asset and date."""
    uri = _gold_daily(lake, paths)
    frame = lake.to_arrow(uri, columns=["asset_id", "date", "close"]).to_pandas()
    return frame.sort_values(["asset_id", "date"])


def prediction_rows(
    asset_id: str,
    forecast: Forecast,
    last_day: dt.date,
    generated_at: dt.datetime,
    model_version: str,
) -> pa.Table:
    """One row per (horizon, day ahead): the 7-day horizon is the first 7 days of the path."""
    records: list[dict[str, Any]] = []
    for horizon in HORIZONS:
        for step in range(horizon):
            records.append(
                {
                    "asset_id": asset_id,
                    "horizon_days": horizon,
                    "generated_at": generated_at,
                    "model_version": model_version,
                    "target_date": last_day + dt.timedelta(days=step + 1),
                    "value": float(forecast.mean[step]),
                    "lower_80": float(forecast.lower[0.80][step]),
                    "upper_80": float(forecast.upper[0.80][step]),
                    "lower_95": float(forecast.lower[0.95][step]),
                    "upper_95": float(forecast.upper[0.95][step]),
                }
            )
    return pa.Table.from_pylist(records, schema=PREDICTIONS_SCHEMA)


def _registered_order(registry: ModelRegistry, asset_id: str) -> tuple[int, int, int] | None:
    latest = registry.latest(f"arima-{asset_id}")
    order = latest.params.get("order") if latest is not None else None
    return (int(order[0]), int(order[1]), int(order[2])) if order else None


#: Exogenous LSTM inputs, by gold table: (column, how it enters).
EXOGENOUS_COLUMNS = (
    "realized_vol_30d",  # features_daily
    "dollar_volume",  # features_daily, log1p
    "sentiment_score",  # sentiment_daily, 0 without news
    "premium_to_nav",  # onchain_daily, where NAV is published
    "DGS10",  # macro_asof: the 10-year Treasury yield known that day
)


def _exogenous(lake: DeltaLake, paths: LakePaths) -> pd.DataFrame:
    """Gold features the LSTM reads besides prices (:data:`EXOGENOUS_COLUMNS`), by asset and
    date; a table not built yet contributes zeros."""

    features = gold_frame(lake, paths, "features_daily", ["realized_vol_30d", "dollar_volume"])
    if features is None:
        raise NotFoundError("the LSTM reads gold/features_daily: run rwa gold first")
    features["dollar_volume"] = np.log1p(features["dollar_volume"].fillna(0.0))
    extras = [
        gold_frame(lake, paths, "sentiment_daily", ["sentiment_score"]),
        gold_frame(lake, paths, "onchain_daily", ["premium_to_nav"]),
    ]
    macro = gold_frame(lake, paths, "macro_asof", ["series_id", "value"])
    if macro is not None:
        macro = macro[macro["series_id"] == "DGS10"].rename(columns={"value": "DGS10"})
        extras.append(macro[["asset_id", "date", "DGS10"]])
    for extra in extras:
        if extra is not None:
            features = features.merge(extra, on=["asset_id", "date"], how="left")
    for column in EXOGENOUS_COLUMNS:
        if column not in features:
            features[column] = 0.0
    return features


def _aligned(exogenous: pd.DataFrame, asset_id: str, dates: pd.Series) -> np.ndarray:
    mine = exogenous[exogenous["asset_id"] == asset_id].drop_duplicates("date").set_index("date")
    aligned = mine.reindex(list(dates))[list(EXOGENOUS_COLUMNS)].ffill().fillna(0.0)
    return aligned.to_numpy(float)


def _artefact(forecast: Forecast, last_day: dt.date, observations: int) -> dict[str, Any]:
    return {
        "params": forecast.params,
        "fitted_through": last_day.isoformat(),
        "observations": observations,
        "levels": list(LEVELS),
    }
