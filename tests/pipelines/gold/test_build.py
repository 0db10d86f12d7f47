"""The gold run as a whole: a backfill in date ranges builds the same tables as a full run,
reruns change nothing, a range run replaces exactly its days, missing inputs are reported."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from pyspark.sql import SparkSession

from pipelines.contracts.gold import GOLD_TABLES
from pipelines.core.errors import ConfigurationError, DataContractError
from pipelines.gold.tables import sorted_for_write
from pipelines.lake.delta import DeltaLake
from tests.fixtures.lake import MakeSettings, lake_settings
from tests.pipelines.gold import pandas_reference as ref
from tests.pipelines.gold.conftest import GoldLake
from tests.pipelines.gold.silver_sets import (
    FIRST_DAY,
    PRICES_SCHEMA,
    silver_prices_frame,
    write_all_silver,
    write_silver,
)

HALF = FIRST_DAY + dt.timedelta(days=16)
LAST_DAY = FIRST_DAY + dt.timedelta(days=39)


def assert_same_gold(left: GoldLake, right: GoldLake) -> None:
    for table in GOLD_TABLES:
        got, want = left.gold(table.name, table.key), right.gold(table.name, table.key)
        assert list(got.columns) == list(want.columns), table.name
        ref.assert_columns_equal(got, want, list(want.columns))


@pytest.fixture(scope="module")
def backfilled(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> GoldLake:
    """The same silver as ``gold_lake``, gold built in two date ranges instead of one run."""
    settings = lake_settings(tmp_path_factory.mktemp("gold-backfill"))
    write_all_silver(settings)
    lake = GoldLake(settings)
    job = lake.job(spark)
    job.run((FIRST_DAY, HALF))
    lake.report = job.run((HALF + dt.timedelta(days=1), LAST_DAY))
    return lake


def test_backfill_in_two_ranges_equals_full_run(backfilled: GoldLake, gold_lake: GoldLake) -> None:
    assert backfilled.report.days is not None
    assert backfilled.report.rows["ohlcv_1m"] == gold_lake.report.rows["ohlcv_1m"]
    assert_same_gold(backfilled, gold_lake)


def test_reruns_change_nothing(
    spark: SparkSession,
    backfilled: GoldLake,
    gold_lake: GoldLake,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    copy = lake_settings(tmp_path_factory.mktemp("gold-rerun"))
    shutil.copytree(backfilled.settings.lake.root, copy.lake.root)
    rerun = GoldLake(copy)
    job = rerun.job(spark)
    job.run((dt.date(2026, 1, 10), dt.date(2026, 1, 12)))
    assert_same_gold(rerun, gold_lake)
    job.run()
    assert_same_gold(rerun, gold_lake)


def test_a_range_run_replaces_exactly_its_days(
    spark: SparkSession, backfilled: GoldLake, tmp_path_factory: pytest.TempPathFactory
) -> None:
    copy = lake_settings(tmp_path_factory.mktemp("gold-correction"))
    shutil.copytree(backfilled.settings.lake.root, copy.lake.root)
    corrected_day = dt.date(2026, 1, 20)
    silver = silver_prices_frame()
    on_day = (silver["date"] == corrected_day) & (silver["asset_id"] == "paxg")
    silver.loc[on_day, ["open", "high", "low", "close"]] *= 1.1
    write_silver(copy, "prices", silver, PRICES_SCHEMA)
    corrected = GoldLake(copy)
    corrected.job(spark).run((corrected_day, corrected_day))

    daily = corrected.gold("ohlcv_1d")
    before = backfilled.gold("ohlcv_1d")
    changed = daily["close"] != before["close"]
    assert daily.loc[changed, ["asset_id", "date"]].values.tolist() == [["paxg", corrected_day]]
    want = ref.ohlcv(silver, "1d")
    ref.assert_columns_equal(daily, want, ["close", "high", "volume"])


def test_missing_optional_silver_tables_are_skipped_and_reported(
    spark: SparkSession, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_silver(
        settings, "prices", silver_prices_frame().query("asset_id == 'paxg'"), PRICES_SCHEMA
    )
    report = GoldLake(settings).job(spark).run()
    assert report.rows["ohlcv_1d"] == 40 and report.rows["ohlcv_1m"] == 0
    assert set(report.skipped) == {
        "onchain_daily",
        "macro_asof",
        "sentiment_daily",
        "market_daily",
    }
    assert "silver/news" in report.skipped["sentiment_daily"]


def test_silver_without_a_contract_column_fails_clearly(
    spark: SparkSession, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    without_volume = PRICES_SCHEMA.remove(PRICES_SCHEMA.get_field_index("volume"))
    write_silver(settings, "prices", silver_prices_frame().head(10), without_volume)
    with pytest.raises(DataContractError, match=r"silver/prices .* lacks column\(s\) \['volume'\]"):
        GoldLake(settings).job(spark).run()


def test_a_reversed_range_is_refused(spark: SparkSession, make_settings: MakeSettings) -> None:
    job = GoldLake(make_settings()).job(spark)
    with pytest.raises(ConfigurationError, match="first day 2026-01-05 is after last day"):
        job.run((dt.date(2026, 1, 5), dt.date(2026, 1, 4)))


def test_a_partitioned_table_is_sorted_by_its_partitions_then_its_key(
    spark: SparkSession, make_settings: MakeSettings
) -> None:
    # Within a partition the rows keep the key's order (its files are the same); across them,
    # a write in groups of partitions finds each group's rows together.
    settings = make_settings()
    lake = DeltaLake(settings.lake, settings.spark)
    first, second = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    rows = [("b", 1, second), ("a", 2, second), ("b", 0, first), ("a", 3, first)]
    df = spark.createDataFrame(rows, "asset_id string, ts int, date date")

    ordered = sorted_for_write(lake, df, ("asset_id", "ts"), ("date",)).collect()
    unpartitioned = sorted_for_write(lake, df, ("asset_id", "ts")).collect()

    assert [tuple(row) for row in ordered] == [
        ("a", 3, first),
        ("b", 0, first),
        ("a", 2, second),
        ("b", 1, second),
    ]
    assert [tuple(row) for row in unpartitioned] == [
        ("a", 2, second),
        ("a", 3, first),
        ("b", 0, first),
        ("b", 1, second),
    ]
