"""``gold/market_daily``: equal to an independent computation over the gold rows it is built
from, and right on the cases that matter: stocks carried over gaps with their as-of days, a
stopped feed marked stale, the 7-day yield of an accruing NAV beside the T-bill, no yield for a
class that does not accumulate one."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.contracts.gold import MARKET_COLUMNS
from pipelines.contracts.measures import STALE_AFTER_DAYS
from pipelines.reference import load_assets
from tests.pipelines.gold import pandas_reference as ref
from tests.pipelines.gold.conftest import GoldLake
from tests.pipelines.gold.market_reference import market
from tests.pipelines.gold.silver_sets import BTC_ONCHAIN_LAST, DAYS, FIRST_DAY

KEY = ("asset_id", "date")
LAST_DAY = FIRST_DAY + dt.timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def rows(gold_lake: GoldLake) -> dict[tuple[str, dt.date], dict[str, object]]:
    frame = gold_lake.gold("market_daily", KEY)
    return {(r["asset_id"], r["date"]): r for r in frame.to_dict("records")}


def test_market_daily_equals_an_independent_computation(gold_lake: GoldLake) -> None:
    got = gold_lake.gold("market_daily", KEY)
    classes = {asset.asset_id: asset.asset_class for asset in load_assets()}
    want = market(
        gold_lake.gold("ohlcv_1d"),
        gold_lake.gold("onchain_daily", KEY),
        gold_lake.gold("macro_asof", KEY),
        classes,
    ).sort_values(list(KEY))
    ref.assert_columns_equal(got, want.reset_index(drop=True), list(MARKET_COLUMNS))
    # Every asset runs to the last day of the data, whatever its own last observation.
    assert set(got.groupby("asset_id")["date"].max()) == {LAST_DAY}
    # The Transfer-log flows of gold/onchain_daily reach the market rows (on their own days).
    assert got["minted_usd"].notna().any() and got["net_flow_usd"].notna().any()


def test_a_weekend_carries_fridays_price_without_going_stale(rows: dict) -> None:
    saturday = dt.date(2026, 1, 3)  # ousg trades on weekdays only
    row = rows[("ousg", saturday)]
    assert row["price_as_of"] == dt.date(2026, 1, 2)
    assert row["price_usd"] == rows[("ousg", dt.date(2026, 1, 2))]["price_usd"]
    assert not row["stale"]


def test_a_feed_that_stops_goes_stale_after_the_allowed_days(rows: dict) -> None:
    stopped = FIRST_DAY + dt.timedelta(days=BTC_ONCHAIN_LAST)
    for offset in range(1, DAYS - BTC_ONCHAIN_LAST):
        row = rows[("btc", stopped + dt.timedelta(days=offset))]
        assert row["supply_as_of"] == stopped
        assert row["price_as_of"] == stopped + dt.timedelta(days=offset)  # bars go on
        assert bool(row["stale"]) == (offset > STALE_AFTER_DAYS)
        assert row["transfer_count"] is None or row["transfer_count"] != row["transfer_count"]


def test_the_yield_of_an_accruing_nav_beside_the_tbill(rows: dict) -> None:
    day = FIRST_DAY + dt.timedelta(days=20)
    row = rows[("ousg", day)]
    nav_now, nav_before = 105.0 + 20 * 0.01, 105.0 + 13 * 0.01
    assert row["yield_method"] == "nav"
    assert row["yield_7d"] == pytest.approx((nav_now / nav_before) ** (365 / 7) - 1)
    # DTB3 is published the day after its observation: on Wednesday the 21st, Tuesday's.
    assert day.weekday() == 2
    assert row["tbill_3m"] == pytest.approx((3.9 + 19 / 200) / 100)
    assert row["yield_spread"] == pytest.approx(row["yield_7d"] - row["tbill_3m"])
    assert rows[("ousg", FIRST_DAY + dt.timedelta(days=6))]["yield_7d"] != pytest.approx(0)
    paxg = rows[("paxg", day)]  # tokenized gold accumulates nothing
    assert paxg["yield_method"] is None and paxg["yield_7d"] != paxg["yield_7d"]
