"""``gold/onchain_daily``: two sources combined metric by metric (latest fetched non-null value
wins), net exchange flow, and the premium of the daily close over NAV."""

from __future__ import annotations

import datetime as dt

from pipelines.contracts.gold import ONCHAIN_COLUMNS
from tests.pipelines.gold import pandas_reference as ref
from tests.pipelines.gold.conftest import GoldLake
from tests.pipelines.gold.silver_sets import (
    REMOVED_DAY,
    REORG_DAY,
    silver_onchain_frame,
    silver_prices_frame,
    silver_transfers_frame,
)

KEY = ("asset_id", "date")


def test_onchain_daily_equals_pandas_combination(gold_lake: GoldLake) -> None:
    got = gold_lake.gold("onchain_daily", KEY)
    want = ref.onchain(silver_onchain_frame(), silver_prices_frame(), silver_transfers_frame())
    want = want.sort_values(list(KEY)).reset_index(drop=True)
    ref.assert_columns_equal(got, want, list(ONCHAIN_COLUMNS))


def test_a_metric_missing_from_the_latest_fetch_comes_from_the_other_source(
    gold_lake: GoldLake,
) -> None:
    silver = silver_onchain_frame()
    day = dt.date(2026, 1, 4)  # offset 3: beta (fetched later) has no transfer_count that day
    rows = silver[(silver["asset_id"] == "paxg") & (silver["date"] == day)].set_index("source")
    assert rows.loc["beta", "fetched_at"] > rows.loc["alpha", "fetched_at"]
    gold = gold_lake.gold("onchain_daily", KEY).set_index(["asset_id", "date"])
    combined = gold.loc[("paxg", day)]
    assert combined["transfer_count"] == rows.loc["alpha", "transfer_count"]
    assert combined["holders"] == rows.loc["beta", "holders"]
    assert combined["dex_liquidity_usd"] == rows.loc["beta", "dex_liquidity_usd"]
    assert combined["sources"] == ("alpha", "beta", "simulated")  # simulated: its Transfer logs


def test_premium_to_nav_only_where_nav_and_close_exist(gold_lake: GoldLake) -> None:
    gold = gold_lake.gold("onchain_daily", KEY)
    ousg = gold[gold["asset_id"] == "ousg"]
    # ousg trades on weekdays only: weekend days have NAV but no close, hence no premium.
    assert ousg["premium_to_nav"].notna().sum() == ousg["close"].notna().sum() == 28
    assert gold[gold["asset_id"] != "ousg"]["premium_to_nav"].isna().all()


def test_flows_drop_orphaned_and_removed_logs_and_value_in_usd(gold_lake: GoldLake) -> None:
    gold = gold_lake.gold("onchain_daily", KEY).set_index(["asset_id", "date"])
    # The re-read page minted 7 tokens and nothing else: the orphaned logs count no more.
    reorged = gold.loc[("ousg", REORG_DAY)]
    assert (reorged["minted"], reorged["burned"], reorged["transfer_volume"]) == (7.0, 0.0, 7.0)
    assert reorged["minted_usd"] == 7.0 * reorged["nav_usd"]  # NAV first, close otherwise
    silver = silver_transfers_frame()
    paxg_logs = silver[
        (silver["asset_id"] == "paxg")
        & (silver["date"] == REMOVED_DAY)
        & (silver["log_index"] >= 0)
    ]
    assert gold.loc[("paxg", REMOVED_DAY), "sources"] == ("alpha", "beta", "simulated")
    # usdc has logs only: holders and transfer counts come from them; no price, no USD.
    usdc = gold.loc["usdc"]
    assert usdc["holders"].notna().all() and usdc["minted_usd"].isna().all()
    assert len(paxg_logs) > 1
