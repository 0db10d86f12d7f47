"""The forecasting job on a lake of simulated daily bars: both horizons per asset, artefacts
registered with their evaluation metrics, reruns idempotent, short histories skipped; ARIMA
fitted in Spark executors gives what the in-driver loop gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from models.forecast.batch import MIN_HISTORY, PREDICTIONS_TABLE, forecast_lake
from models.registry import ModelRegistry
from pipelines import steps
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.reference import load_assets
from tests.fixtures.lake import lake_settings

ASSETS = ["btc", "usdc", "buidl", "ousg"]


# ARIMA, LSTM and ensemble runs, each with its rolling-origin evaluation: minutes on a busy
# 2-core machine, so it gets more than the suite's default per-test limit.
@pytest.mark.timeout(1800)
def test_forecasts_both_horizons_registers_models_and_reruns_idempotently(
    tmp_path: Path, spark: SparkSession
) -> None:
    settings = lake_settings(tmp_path, sim_days=100, sim_end=dt.date(2026, 5, 1), sim_assets=ASSETS)
    steps.land_simulated(Lakehouse.from_settings(settings))
    steps.run_silver(Lakehouse.from_settings(settings), "prices")
    steps.run_gold(Lakehouse.from_settings(settings))
    lake, paths = DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake)
    registry = ModelRegistry(open_object_store(settings.lake))
    assets = [a for a in load_assets() if a.asset_id in ASSETS or a.asset_id == "paxg"]

    # ARIMA per asset in Spark executors (applyInPandas), as `rwa forecast` runs it
    report = forecast_lake(lake, paths, assets, registry, spark=spark)

    assert sorted(report.forecasts) == sorted(ASSETS)
    assert "paxg" in report.skipped and f"(< {MIN_HISTORY})" in report.skipped["paxg"]
    rows = lake.to_arrow(paths.gold(PREDICTIONS_TABLE)).to_pylist()
    assert len(rows) == len(ASSETS) * (7 + 30)  # one run per asset so far
    btc = sorted(
        (r for r in rows if r["asset_id"] == "btc" and r["horizon_days"] == 7),
        key=lambda r: r["target_date"],
    )
    assert btc[0]["target_date"] == dt.date(2026, 5, 1)  # the day after the last bar
    assert btc[0]["generated_at"] == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    for r in btc:
        assert r["lower_95"] <= r["lower_80"] <= r["value"] <= r["upper_80"] <= r["upper_95"]
    model = registry.latest("arima-btc")
    assert model is not None and model.label == btc[0]["model_version"]
    assert {"mase_7d", "coverage95_7d", "naive_mase_7d"} <= set(model.metrics)

    # the in-driver loop computes the same models: same versions, nothing new written
    again = forecast_lake(lake, paths, assets, registry)
    assert again.forecasts == report.forecasts
    assert lake.count_rows(paths.gold(PREDICTIONS_TABLE)) == len(rows)
    assert len(registry.versions("arima-btc")) == 1
    daily = forecast_lake(lake, paths, assets, registry, reselect=False, spark=spark)
    assert daily.forecasts == report.forecasts  # same order, same data: the same model

    # The LSTM trains afresh at every evaluation origin (seconds each on 2 busy cores): a few
    # origins exercise the same path as the 20 of production.
    ensemble = forecast_lake(lake, paths, assets, registry, model="ensemble", origins=4)
    assert not ensemble.fallbacks
    assert {m["origins_7d"] for m in ensemble.metrics.values()} == {4.0}
    assert all(label.startswith(f"ensemble-{a}@") for a, label in ensemble.forecasts.items())
    stored = lake.to_arrow(paths.gold(PREDICTIONS_TABLE))["model_version"].to_pylist()
    assert set(ensemble.forecasts.values()) <= set(stored)

    short = forecast_lake(lake, paths, assets, registry, model="lstm", min_days=200)
    assert sorted(short.fallbacks) == sorted(ASSETS)  # too short for the LSTM: ARIMA, said so
