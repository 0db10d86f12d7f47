"""gold -> serving on both real stores: the loaded bars equal gold, and reloading is a no-op."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lakehouse import Lakehouse
from pipelines.serving import open_store
from tests.fixtures.lake import MakeSettings

pytestmark = pytest.mark.usefixtures("spark")


@pytest.fixture(params=["duckdb", pytest.param("timescaledb", marks=pytest.mark.timescaledb)])
def settings(request: pytest.FixtureRequest, make_settings: MakeSettings) -> Settings:
    backend = {"serving_backend": request.param}
    if request.param == "timescaledb":
        backend["timescale_dsn"] = request.getfixturevalue("fresh_timescale_dsn")
    return make_settings(
        **backend,
        sim_assets=["eth", "usdc", "ustb"],
        sim_days=3,
        sim_end=dt.date(2026, 4, 1),
    )


def test_serving_store_holds_exactly_gold(settings: Settings) -> None:
    steps.land_simulated(Lakehouse.from_settings(settings))
    steps.run_silver_prices(Lakehouse.from_settings(settings))
    steps.run_gold(Lakehouse.from_settings(settings))

    first = steps.load_serving(Lakehouse.from_settings(settings))
    second = steps.load_serving(Lakehouse.from_settings(settings))

    gold_daily = DeltaLake(settings.lake, settings.spark).to_arrow(
        steps.gold_uris(Lakehouse.from_settings(settings))["1d"]
    )
    assert first.table_counts == second.table_counts
    assert first.table_counts["ohlcv_1d"] == gold_daily.num_rows == 3 * 3
    assert first.table_counts["assets"] >= 20
    with open_store(settings.serving, read_only=True) as store:
        for row in gold_daily.to_pylist():
            (bar,) = store.ohlcv(row["asset_id"], "1d", row["ts"], row["ts"] + dt.timedelta(days=1))
            assert (bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
                row["ts"],
                row["open"],
                row["high"],
                row["low"],
                row["close"],
                row["volume"],
            )
