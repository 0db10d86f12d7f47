"""``gold/features_daily`` agrees with an independent pandas computation from silver: returns,
rolling volatility with its minimum periods, drawdowns, liquidity."""

from __future__ import annotations

import math

from pipelines.contracts.gold import FEATURE_COLUMNS
from tests.pipelines.gold import pandas_reference as ref
from tests.pipelines.gold.conftest import GoldLake
from tests.pipelines.gold.silver_sets import silver_prices_frame

KEY = ("asset_id", "date")


def test_features_equal_pandas_computation(gold_lake: GoldLake) -> None:
    got = gold_lake.gold("features_daily", KEY)
    want = ref.features(silver_prices_frame()).sort_values(list(KEY)).reset_index(drop=True)
    ref.assert_columns_equal(got, want, list(FEATURE_COLUMNS))


def test_windows_wait_for_their_minimum_periods(gold_lake: GoldLake) -> None:
    paxg = gold_lake.gold("features_daily", KEY).query("asset_id == 'paxg'")
    # Day 1 has no return; the 7-day window needs 5 returns (day 6), the 30-day one 20 (day 21).
    assert math.isnan(paxg["return_1d"].iloc[0])
    assert paxg["realized_vol_7d"].isna().tolist()[:6] == [True] * 5 + [False]
    assert paxg["realized_vol_30d"].isna().tolist()[:21] == [True] * 20 + [False]
    assert paxg["max_drawdown_30d"].isna().tolist()[:20] == [True] * 19 + [False]


def test_drawdowns_are_never_positive(gold_lake: GoldLake) -> None:
    features = gold_lake.gold("features_daily", KEY)
    assert (features["drawdown"] <= 0).all()
    assert (features["max_drawdown_30d"].dropna() <= 0).all()
    assert (features["drawdown"] < 0).any()


def test_business_day_asset_gets_calendar_windows(gold_lake: GoldLake) -> None:
    ousg = gold_lake.gold("features_daily", KEY).query("asset_id == 'ousg'")
    assert ousg["date"].map(lambda day: day.weekday() < 5).all()
    assert ousg["realized_vol_30d"].notna().any()
    assert ousg["zero_volume_share"].between(0, 1).all()
    assert set(ousg["intraday_bars"]) == {24}
