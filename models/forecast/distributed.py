"""The forecast job's per-asset work spread over Spark executors.

``gold/ohlcv_1d`` is read by Spark, hash-partitioned by asset into up to
:data:`TASKS_PER_CORE` tasks per core (small tasks balance the uneven cost of assets across
cores; a partition count given explicitly is never coalesced away by adaptive execution), and
each asset's group goes through :meth:`~models.forecast.job.AssetJob.run` in a Python worker
(``applyInPandas``): order selection, the 30-day forecast and the rolling-origin evaluation, the
whole cost of the job. Each group answers with one row, its outcome as JSON (floats round-trip
exactly through ``repr``), so only a few kilobytes per asset reach the driver, which registers
the models and writes ``gold/predictions`` as the in-driver loop does: the same outputs, the
same idempotent reruns. Executors need the project and its ARIMA dependencies (numpy, scipy,
statsmodels), not torch.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.forecast.forecasters import Forecast
from models.forecast.intervals import LEVELS
from models.forecast.job import AssetForecast, AssetJob, is_pegged
from pipelines.contracts.reference import Asset

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Partitions per core of the cluster (Spark's default parallelism), at most one per asset.
TASKS_PER_CORE = 4
OUTPUT_SCHEMA = "asset_id string, outcome string"
Orders = dict[str, tuple[int, int, int] | None]


def forecast_on_spark(
    spark: SparkSession, daily: DataFrame, assets: Sequence[Asset], orders: Orders, job: AssetJob
) -> dict[str, AssetForecast]:
    """:meth:`AssetJob.run` for every asset of ``assets`` in ``daily`` (``asset_id``, ``date``,
    ``close``), an ``applyInPandas`` group per asset; an asset without rows has no entry."""
    from pyspark.sql import functions as F

    wanted = [asset.asset_id for asset in assets]
    pegged = {asset.asset_id: is_pegged(asset) for asset in assets}
    tasks = max(1, min(len(wanted), TASKS_PER_CORE * spark.sparkContext.defaultParallelism))
    rows = (
        daily.select("asset_id", "date", "close")
        .where(F.col("asset_id").isin(wanted))
        .repartition(tasks, "asset_id")
        .groupBy("asset_id")
        .applyInPandas(group_runner(job, pegged, orders), OUTPUT_SCHEMA)
        .collect()
    )
    return {row["asset_id"]: decoded(row["outcome"]) for row in rows}


def group_runner(
    job: AssetJob, pegged: dict[str, bool], orders: Orders
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The function each asset's group goes through in an executor: its bars by date through
    :meth:`AssetJob.run` (typed, so that Spark reads it as a grouped map)."""

    def run_group(bars: pd.DataFrame) -> pd.DataFrame:
        bars = bars.sort_values("date")
        asset_id = str(bars["asset_id"].iloc[0])
        dates = [pd.Timestamp(day).date() for day in bars["date"]]
        closes = bars["close"].to_numpy(float)
        result = job.run(dates, closes, pegged[asset_id], orders.get(asset_id))
        return pd.DataFrame({"asset_id": [asset_id], "outcome": [encoded(result)]})

    return run_group


def encoded(result: AssetForecast) -> str:
    """``result`` as JSON (arrays as lists, the day as ISO text)."""
    forecast = result.forecast
    body: dict[str, Any] = {
        "model": result.model,
        "days": result.days,
        "last_day": None if result.last_day is None else result.last_day.isoformat(),
        "metrics": result.metrics,
        "forecast": None,
    }
    if forecast is not None:
        body["forecast"] = {
            "mean": forecast.mean.tolist(),
            "lower": {str(level): forecast.lower[level].tolist() for level in LEVELS},
            "upper": {str(level): forecast.upper[level].tolist() for level in LEVELS},
            "params": forecast.params,
        }
    return json.dumps(body, default=_plain)


def decoded(text: str) -> AssetForecast:
    """The :class:`AssetForecast` of :func:`encoded`."""
    body = json.loads(text)
    made = body["forecast"]
    forecast = None
    if made is not None:
        forecast = Forecast(
            np.asarray(made["mean"], dtype=float),
            {level: np.asarray(made["lower"][str(level)], dtype=float) for level in LEVELS},
            {level: np.asarray(made["upper"][str(level)], dtype=float) for level in LEVELS},
            made["params"],
        )
    last_day = None if body["last_day"] is None else dt.date.fromisoformat(body["last_day"])
    return AssetForecast(body["model"], int(body["days"]), last_day, forecast, body["metrics"])


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
