"""The forecasting step's assets fitted side by side in worker processes: the loop's predictions
and registered models bit for bit on real price series, the loop's error for a failing asset,
a clear error for a worker that dies, and no worker left behind."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from models.forecast.batch import (
    MIN_HISTORY,
    PREDICTIONS_TABLE,
    AssetForecast,
    AssetInput,
    AssetJob,
    forecast_lake,
)
from models.forecast.processes import ForecastWorkerError, forecast_in_processes
from models.registry import ModelRegistry
from pipelines.contracts.reference import Asset
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.reference import load_assets
from tests.fixtures.lake import lake_settings
from tests.models.forecast.jobs import CrashingJob, FailingJob

#: Catalogue assets and the days of real history each gets: a long one, the demo's 90 days,
#: a stablecoin (pegged: modelled in levels), and one too short to forecast.
DAYS = {"btc": 400, "eth": 90, "xaut": 150, "usdc": 120, "ousg": 60, "paxg": MIN_HISTORY - 5}


def real_closes() -> dict[str, np.ndarray]:
    """Slices of the S&P 500, NASDAQ and Microsoft daily closes (as ``bench/forecast_accuracy``
    uses them), one per asset of :data:`DAYS`."""
    import arch.data.nasdaq
    import arch.data.sp500
    import pmdarima

    sources = [
        arch.data.sp500.load()["Adj Close"].to_numpy(float),
        arch.data.nasdaq.load()["Adj Close"].to_numpy(float),
        pmdarima.datasets.load_msft()["Close"].to_numpy(float),
    ]
    return {
        asset_id: sources[i % 3][300 * i : 300 * i + days]
        for i, (asset_id, days) in enumerate(DAYS.items())
    }


def gold_lake(root: Path, closes: dict[str, np.ndarray]) -> tuple[DeltaLake, LakePaths, Path]:
    settings = lake_settings(root)
    lake, paths = DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake)
    rows: dict[str, list[object]] = {"asset_id": [], "date": [], "close": []}
    for asset_id, values in closes.items():
        start = dt.date(2026, 5, 1) - dt.timedelta(days=values.size)
        rows["asset_id"] += [asset_id] * values.size
        rows["date"] += [start + dt.timedelta(days=i) for i in range(values.size)]
        rows["close"] += values.tolist()
    write_deltalake(paths.gold("ohlcv_1d"), pa.table(rows))
    return lake, paths, root


def catalogue(asset_ids: Sequence[str]) -> list[Asset]:
    return [a for a in load_assets() if a.asset_id in asset_ids]


@pytest.mark.timeout(900)
def test_worker_processes_give_the_loops_predictions_and_models_bit_for_bit(
    tmp_path: Path,
) -> None:
    closes = real_closes()
    assets = catalogue(list(DAYS))
    assert len(assets) == len(DAYS)
    outputs = []
    for name, processes in (("loop", 1), ("workers", 3)):  # this process and two workers
        lake, paths, root = gold_lake(tmp_path / name, closes)
        registry = ModelRegistry(open_object_store(lake_settings(root).lake))
        report = forecast_lake(lake, paths, assets, registry, processes=processes)
        predictions = lake.to_arrow(paths.gold(PREDICTIONS_TABLE)).sort_by(
            [("asset_id", "ascending"), ("horizon_days", "ascending"), ("target_date", "ascending")]
        )
        models = {a: registry.latest(f"arima-{a}") for a in report.forecasts}
        outputs.append((report, predictions, models))

    (loop, loop_rows, loop_models), (workers, worker_rows, worker_models) = outputs
    assert sorted(loop.forecasts) == sorted(set(DAYS) - {"paxg"}) and "paxg" in loop.skipped
    assert workers.forecasts == loop.forecasts  # versions: a hash of the fitted parameters
    assert workers.skipped == loop.skipped
    assert workers.metrics == loop.metrics  # float equality: bit for bit
    assert worker_rows.equals(loop_rows)  # every value and bound of both horizons
    for asset_id, model in loop_models.items():
        other = worker_models[asset_id]
        assert model is not None and other is not None
        assert (other.label, other.metrics, other.params) == (
            model.label,
            model.metrics,
            model.params,
        )


def short_inputs(sizes: Sequence[int]) -> list[AssetInput]:
    day = dt.date(2026, 1, 1)
    return [
        AssetInput(f"a{i}", [day + dt.timedelta(days=d) for d in range(n)], np.ones(n), False)
        for i, n in enumerate(sizes)
    ]


def one_after_another(inputs: Sequence[AssetInput], job: AssetJob) -> dict[str, AssetForecast]:
    """The loop of ``forecast_lake`` with one process."""
    return {asset.asset_id: job.run(*asset.arguments()) for asset in inputs}


def workers_left() -> list[int]:
    """This process's children that are forecasting workers."""
    mine = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"models.forecast.processes" in cmdline:
            mine.append(int(entry.name))
    return mine


@pytest.mark.timeout(300)
def test_a_failing_asset_raises_the_loops_error_and_leaves_no_worker() -> None:
    inputs = short_inputs([21, 22, 13, 24, 25, 16, 27, 28])  # a2 and a5 fail, a2 first
    job = FailingJob(fail=(13, 16), driver=os.getpid())

    with pytest.raises(ValueError, match="closes") as in_loop:
        one_after_another(inputs, job)
    with pytest.raises(ValueError, match="closes") as in_workers:
        forecast_in_processes(inputs, job, processes=3)

    assert str(in_workers.value) == str(in_loop.value) == "no fit for 13 closes"
    assert workers_left() == []
    # and without failures, every asset's outcome comes back
    outcomes = forecast_in_processes(inputs, FailingJob(driver=os.getpid()), processes=3)
    assert {a: o.days for a, o in outcomes.items()} == {a.asset_id: a.closes.size for a in inputs}
    assert workers_left() == []


@pytest.mark.timeout(300)
def test_a_worker_that_dies_raises_a_clear_error_and_leaves_no_worker() -> None:
    inputs = short_inputs([20, 21, 22, 23, 24, 25])

    with pytest.raises(ForecastWorkerError, match=r"killed by signal 9\) while fitting a\d"):
        forecast_in_processes(inputs, CrashingJob(driver=os.getpid()), processes=2)

    assert workers_left() == []
