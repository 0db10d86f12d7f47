"""Gold OHLCV on real Spark: each bucket agrees with an independent pandas roll-up of silver."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from pipelines.gold.ohlcv import GoldOhlcvJob, rollup_ohlcv
from pipelines.lake.delta import DeltaLake
from tests.fixtures.lake import MakeSettings


def silver_frame(resolution: str, minutes: int, periods: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2026-02-01", periods=periods, freq=f"{minutes}min", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, periods)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame(
        {
            "date": ts.date,
            "asset_id": "btc",
            "resolution": resolution,
            "ts": ts,
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.uniform(0, 10, periods),
            "trades": rng.integers(0, 5, periods),
        }
    )


def pandas_rollup(silver: pd.DataFrame, freq: str) -> pd.DataFrame:
    grouped = silver.sort_values("ts").groupby(silver["ts"].dt.floor(freq))
    return pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    ).reset_index()


@pytest.mark.parametrize(("resolution", "freq"), [("1h", "h"), ("1d", "D")])
def test_rollup_matches_pandas(spark: SparkSession, resolution: str, freq: str) -> None:
    silver = silver_frame("5m", 5, periods=12 * 24 * 3 + 7, seed=1)
    got = (
        rollup_ohlcv(spark.createDataFrame(silver), resolution)
        .toArrow()
        .to_pandas()
        .sort_values("ts")
        .reset_index(drop=True)
    )
    want = pandas_rollup(silver, freq)
    assert len(got) == len(want)
    assert (got["ts"] == want["ts"]).all()
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-12)
    assert set(got["resolution"]) == {resolution}


def test_finest_silver_resolution_wins(spark: SparkSession) -> None:
    fine = silver_frame("1m", 1, periods=120, seed=2)
    coarse = silver_frame("1h", 60, periods=2, seed=3)  # a second, coarser fetch of the same hours
    both = pd.concat([fine, coarse], ignore_index=True)
    got = rollup_ohlcv(spark.createDataFrame(both), "1h").toArrow().to_pandas().sort_values("ts")
    assert got["source_bars"].tolist() == [60, 60]
    np.testing.assert_allclose(got["close"], pandas_rollup(fine, "h")["close"])


def test_job_writes_one_gold_table_per_resolution_and_reruns_idempotently(
    spark: SparkSession, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    lake = DeltaLake(settings)
    silver_uri = settings.lake_uri("silver", "prices")
    lake.overwrite(spark.createDataFrame(silver_frame("1h", 60, periods=72, seed=4)), silver_uri)
    gold = {res: settings.lake_uri("gold", f"ohlcv_{res}") for res in ("1h", "1d")}
    job = GoldOhlcvJob(spark, lake, silver_uri=silver_uri, gold_uri=gold)

    first = job.run()
    second = job.run()

    assert first.rows == second.rows == {"1h": 72, "1d": 3}
    daily = lake.to_arrow(gold["1d"]).sort_by("ts").to_pylist()
    assert [row["ts"] for row in daily] == [
        dt.datetime(2026, 2, d, tzinfo=dt.UTC) for d in (1, 2, 3)
    ]
    assert lake.to_arrow(gold["1h"]).num_rows == 72
