"""Gold OHLCV on real Spark and Delta: every bar of every resolution agrees with an independent
pandas roll-up of the same silver set (1m bars for one asset on some days, 1h for the rest)."""

from __future__ import annotations

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from pipelines.core.errors import DataContractError
from pipelines.gold.ohlcv import OHLCV_COLUMNS, can_build, resolution_seconds, rollup_ohlcv
from tests.pipelines.gold import pandas_reference as ref
from tests.pipelines.gold.conftest import GoldLake
from tests.pipelines.gold.silver_sets import MINUTE_DAYS, NO_VOLUME_DAY, silver_prices_frame


@pytest.mark.parametrize("resolution", ["1d", "1h", "5m", "1m"])
def test_gold_ohlcv_equals_pandas_rollup_of_silver(gold_lake: GoldLake, resolution: str) -> None:
    got = gold_lake.gold(f"ohlcv_{resolution}")
    want = ref.ohlcv(silver_prices_frame(), resolution)
    ref.assert_columns_equal(got, want, list(OHLCV_COLUMNS))


def test_each_asset_gets_only_the_resolutions_its_bars_can_make(gold_lake: GoldLake) -> None:
    per_table = {
        res: gold_lake.gold(f"ohlcv_{res}").groupby("asset_id")["date"].nunique().to_dict()
        for res in ("1m", "5m", "1h", "1d")
    }
    # btc has 1m bars on its last days only; ousg and paxg have 1h bars: no 1m/5m for them.
    assert per_table["1m"] == per_table["5m"] == {"btc": MINUTE_DAYS}
    assert per_table["1h"] == per_table["1d"] == {"btc": 40, "ousg": 28, "paxg": 40}


def test_finer_bars_win_over_a_coarser_fetch_of_the_same_day(gold_lake: GoldLake) -> None:
    hourly = gold_lake.gold("ohlcv_1h")
    btc = hourly[hourly["asset_id"] == "btc"]
    minute_days = sorted(btc[btc["source_bars"] == 60]["date"].unique())
    assert len(minute_days) == MINUTE_DAYS
    assert set(btc[~btc["date"].isin(minute_days)]["source_bars"]) == {1}


def test_bars_that_do_not_tile_the_target_are_not_used(spark: SparkSession) -> None:
    silver = silver_prices_frame().head(3).assign(resolution=["45m", "junk", "1h"])
    got = rollup_ohlcv(spark.createDataFrame(silver), "1h").toArrow()
    assert got.column("source_bars").to_pylist() == [1]


def test_resolution_seconds() -> None:
    assert [resolution_seconds(r) for r in ("1m", "5m", "15m", "1h", "1d")] == [
        60,
        300,
        900,
        3_600,
        86_400,
    ]
    with pytest.raises(DataContractError, match="'hourly'"):
        resolution_seconds("hourly")


def test_daily_bucket_is_the_utc_day(gold_lake: GoldLake) -> None:
    daily = gold_lake.gold("ohlcv_1d")
    assert (
        daily["ts"].dt.tz_convert("UTC") == pd.to_datetime(daily["date"]).dt.tz_localize("UTC")
    ).all()


def test_a_bucket_with_a_bar_of_unknown_volume_has_unknown_volume(gold_lake: GoldLake) -> None:
    # paxg's silver bars lack a volume all of NO_VOLUME_DAY and in a few scattered hours.
    silver = silver_prices_frame().query("asset_id == 'paxg'")
    unknown_days = set(silver[silver["volume"].isna()]["date"])
    daily = gold_lake.gold("ohlcv_1d").query("asset_id == 'paxg'")
    assert NO_VOLUME_DAY in unknown_days
    assert 1 < len(unknown_days) < len(daily)  # partly known days exist: the rule matters
    assert set(daily[daily["volume"].isna()]["date"]) == unknown_days
    complete = daily[~daily["date"].isin(unknown_days)]
    sums = silver.groupby("date")["volume"].sum()
    assert complete["volume"].tolist() == pytest.approx(sums[complete["date"]].tolist())
    hourly = gold_lake.gold("ohlcv_1h").query("asset_id == 'paxg'")
    assert hourly["volume"].isna().sum() == silver["volume"].isna().sum()


def test_liquidity_features_skip_days_of_unknown_volume(gold_lake: GoldLake) -> None:
    features = gold_lake.gold("features_daily", ("asset_id", "date")).query("asset_id == 'paxg'")
    day = features[features["date"] == NO_VOLUME_DAY].iloc[0]
    assert pd.isna(day["dollar_volume"])
    assert pd.isna(day["zero_volume_share"])  # no bar with a known volume that day
    assert day["intraday_bars"] == 0
    assert pd.notna(day["close"]) and pd.notna(day["return_1d"])  # prices are still served


@pytest.mark.parametrize(
    ("silver", "target", "expected"),
    [
        ({"1h"}, "1m", False),
        ({"1h"}, "5m", False),
        ({"1h"}, "1h", True),
        ({"1h", "1d"}, "1d", True),
        ({"15m"}, "5m", False),  # coarser than the target
        ({"7m"}, "1h", False),  # does not divide it
        ({"1m", "1h"}, "5m", True),
        ({"bogus", ""}, "1d", False),  # Spark's bar_seconds is null for these: nothing tiles
        (set(), "1h", False),
    ],
)
def test_can_build_follows_the_tiling_rule_of_finest_bars(
    silver: set[str], target: str, expected: bool
) -> None:
    assert can_build(silver, target) is expected
