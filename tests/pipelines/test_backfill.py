"""Backfill: reprocessing bronze for ranges of days into silver and gold gives exactly what the
streaming path builds from the same bronze, repairs lost silver days, and changes nothing when
rerun -- real Spark, real Delta tables, simulated bronze of every dataset."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from pipelines import steps
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.silver.reconciliation import reconcile
from pipelines.silver.registry import SILVER_DATASETS
from tests.fixtures.lake import assert_same_tables, lake_of, lake_snapshot
from tests.fixtures.pipeline import streamed_settings

pytestmark = pytest.mark.usefixtures("spark")


def fetch_days(settings: Settings) -> list[dt.date]:
    bronze = Path(settings.lake.root) / "bronze"
    return sorted({dt.date.fromisoformat(p.name[5:]) for p in bronze.glob("*/*/date=*")})


@pytest.fixture(scope="module")
def streamed_tables(streamed: Settings) -> dict[str, pa.Table]:
    return lake_snapshot(streamed)


def copy_bronze(source: Settings, root: Path) -> Settings:
    settings = streamed_settings(root)
    shutil.copytree(Path(source.lake.root) / "bronze", Path(settings.lake.root) / "bronze")
    return settings


def test_backfill_in_three_ranges_equals_the_streaming_path(
    streamed: Settings, streamed_tables: dict[str, pa.Table], tmp_path: Path
) -> None:
    """A fresh lake over the same bronze, backfilled in three ranges out of order."""
    settings = copy_bronze(streamed, tmp_path)
    days = fetch_days(settings)
    assert len(days) >= 6
    thirds = [days[: len(days) // 3], days[len(days) // 3 : 2 * len(days) // 3]]
    thirds.append(days[2 * len(days) // 3 :])
    for part in (thirds[1], thirds[2], thirds[0]):
        report = steps.backfill(Lakehouse.from_settings(settings), part[0], part[-1])
        assert report.gold is not None and report.gold_days is not None
        # gold is rebuilt from the first day the fetched records are about (prices of the
        # day before the first fetch day, at least) through the latest day
        assert report.gold_days.first <= part[0] - dt.timedelta(days=1)
        assert report.gold_days.last >= part[-1] - dt.timedelta(days=1)

    # hourly simulated bars make no 1m/5m bars; every other table has rows
    intraday = {"gold/ohlcv_1m", "gold/ohlcv_5m"}
    empty = [n for n, t in streamed_tables.items() if t.num_rows == 0 and n not in intraday]
    assert not empty, f"the simulated bronze should fill every table: {empty} are empty"
    assert_same_tables(lake_snapshot(settings), streamed_tables)
    quarantined = streamed_tables["silver/quarantine"].num_rows
    assert quarantined > 0, "the fault rate should have refused some records"
    for dataset in SILVER_DATASETS:
        check = reconcile(*lake_of(settings), dataset)
        assert check.ok, check.describe()


def test_backfill_repairs_lost_silver_days_and_a_rerun_changes_nothing(
    streamed: Settings, streamed_tables: dict[str, pa.Table], tmp_path: Path
) -> None:
    settings = copy_bronze(streamed, tmp_path)
    shutil.copytree(Path(streamed.lake.root) / "silver", Path(settings.lake.root) / "silver")
    shutil.copytree(Path(streamed.lake.root) / "gold", Path(settings.lake.root) / "gold")
    paths = LakePaths(settings.lake)
    days = fetch_days(settings)
    lost = days[3]
    # an operator's mistake: every price bar about two days deleted from silver
    DeltaTable(paths.silver("prices")).delete(
        f"date >= '{lost - dt.timedelta(days=1)}' AND date <= '{lost}'"
    )
    assert DeltaLake(settings.lake, settings.spark).count_rows(paths.silver("prices")) < (
        streamed_tables["silver/prices"].num_rows
    )

    steps.backfill(
        Lakehouse.from_settings(settings), lost - dt.timedelta(days=1), lost + dt.timedelta(days=1)
    )
    assert_same_tables(lake_snapshot(settings), streamed_tables)

    versions = {n: DeltaTable(paths.silver(n)).version() for n in SILVER_DATASETS}
    again = steps.backfill(
        Lakehouse.from_settings(settings), lost - dt.timedelta(days=1), lost + dt.timedelta(days=1)
    )
    assert all(r.inserted == 0 for r in again.silver.values())
    assert_same_tables(lake_snapshot(settings), streamed_tables)
    # the same fetches are merged again (a reprocess), but no row's content changes
    assert {n: DeltaTable(paths.silver(n)).version() for n in SILVER_DATASETS} != versions


def test_a_range_without_bronze_changes_nothing(streamed: Settings, tmp_path: Path) -> None:
    settings = copy_bronze(streamed, tmp_path)
    report = steps.backfill(
        Lakehouse.from_settings(settings), dt.date(2020, 1, 1), dt.date(2020, 1, 3)
    )
    assert report.gold is None
    assert all(r.records_in == 0 for r in report.silver.values())


def test_a_reversed_range_is_refused(streamed: Settings) -> None:
    with pytest.raises(ConfigurationError, match="first day 2026-02-03 is after last day"):
        steps.backfill(Lakehouse.from_settings(streamed), dt.date(2026, 2, 3), dt.date(2026, 2, 1))
