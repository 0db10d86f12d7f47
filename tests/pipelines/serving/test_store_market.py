"""The market analytics reads on both stores (the ``store`` fixture): the aggregates against an
independent computation in pandas over the same gold-shaped rows, for every grouping, interval
and a window that cuts buckets; the rows of a day; the mean sentiment; loads refusing what
cannot be served."""

from __future__ import annotations

import datetime as dt
import math
from itertools import product
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from pipelines.contracts.served import (
    AGGREGATE_FLOWS,
    AGGREGATE_STOCKS,
    MARKET,
    MARKET_AGGREGATE_SCHEMA,
    MARKET_GROUPS,
    MARKET_INTERVALS,
    SENTIMENT,
)
from pipelines.core.errors import DataContractError
from pipelines.serving.store import ServingStore
from tests.fixtures.market import BTC_LAST_OBSERVED, MARKET_DAYS, market_rows
from tests.fixtures.sample_data import DAY, SAMPLE_ASSETS, T0
from tests.fixtures.serving import series_rows

GROUP_OF = {
    "asset_class": lambda asset: asset.asset_class,
    "network": lambda asset: asset.blockchain_network,
    "issuer": lambda asset: asset.issuer_name,
    "all": lambda asset: "all",
}


def _bucket(ts: pd.Series, interval: str) -> pd.Series:
    days = ts.dt.floor("D")
    if interval == "week":
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    if interval == "month":
        return days - pd.to_timedelta(days.dt.day - 1, unit="D")
    return days


def _sum(values: pd.Series) -> float | None:
    total = values.sum(min_count=1)
    return None if pd.isna(total) else float(total)


def expected_aggregates(
    rows: pa.Table, by: str, interval: str, start: dt.datetime | None, end: dt.datetime | None
) -> list[dict[str, Any]]:
    """What ``market_aggregates`` must answer, worked out in pandas (docs/api.md's rules)."""
    frame = rows.to_pandas()
    if start is not None:
        frame = frame[frame["ts"] >= start]
    if end is not None:
        frame = frame[frame["ts"] < end]
    assets = {asset.asset_id: asset for asset in SAMPLE_ASSETS}
    frame["group"] = frame["asset_id"].map(lambda a: GROUP_OF[by](assets[a]))
    frame["bucket"] = _bucket(frame["ts"], interval)
    per_asset = frame.groupby(["asset_id", "bucket"])
    last = (
        frame.sort_values("ts")
        .groupby(["asset_id", "bucket"])
        .tail(1)
        .set_index(["asset_id", "bucket"])
    )
    flows = per_asset[list(AGGREGATE_FLOWS)].sum(min_count=1)
    merged = last.drop(columns=list(AGGREGATE_FLOWS)).join(flows).reset_index()
    result = []
    for (bucket, group), part in merged.groupby(["bucket", "group"], dropna=False):
        current, stale = part[~part["stale"]], part[part["stale"]]
        row: dict[str, Any] = {
            "ts": bucket.to_pydatetime(),
            "group": None if pd.isna(group) else group,
            "last_day": part["ts"].max().date(),
            "assets": len(current),
            "stale_assets": len(stale),
        }
        row |= {name: _sum(current[name]) for name in AGGREGATE_STOCKS}
        row |= {f"stale_{name}": _sum(stale[name]) for name in AGGREGATE_STOCKS}
        row |= {name: _sum(part[name]) for name in AGGREGATE_FLOWS}
        result.append(row)
    return sorted(result, key=lambda r: (r["ts"], r["group"] is None, r["group"] or ""))


def _same(got: list[dict[str, Any]], want: list[dict[str, Any]], label: str) -> None:
    assert [(r["ts"], r["group"]) for r in got] == [(r["ts"], r["group"]) for r in want], label
    for left, right in zip(got, want, strict=True):
        for name, value in right.items():
            if isinstance(value, float):
                assert left[name] == pytest.approx(value, rel=1e-9), (label, name, left)
            else:
                assert left[name] == value, (label, name, left)


@pytest.fixture
def loaded(store: ServingStore) -> ServingStore:
    store.upsert_assets(SAMPLE_ASSETS)
    store.upsert_market(market_rows())
    return store


def test_aggregates_equal_an_independent_computation_for_every_grouping(
    loaded: ServingStore,
) -> None:
    rows = market_rows()
    windows = [(None, None), (T0 + 5 * DAY, T0 + 33 * DAY)]
    for by, interval, (start, end) in product(MARKET_GROUPS, MARKET_INTERVALS, windows):
        label = f"{by}/{interval}/{start}"
        table = loaded.market_aggregates(by, interval, start, end)
        assert table.schema == MARKET_AGGREGATE_SCHEMA, label
        got = sorted(
            table.to_pylist(), key=lambda r: (r["ts"], r["group"] is None, r["group"] or "")
        )
        _same(got, expected_aggregates(rows, by, interval, start, end), label)


def test_a_stopped_feed_is_summed_apart_from_the_current_assets(loaded: ServingStore) -> None:
    last_day = T0 + (MARKET_DAYS - 1) * DAY
    (row,) = loaded.market_aggregates("all", "day", last_day, last_day + DAY).to_pylist()
    btc = market_rows().filter(pa.compute.equal(market_rows().column("asset_id"), "btc"))
    btc_value = btc.column("value_usd")[-1].as_py()
    assert (row["assets"], row["stale_assets"]) == (2, 1)
    assert row["stale_value_usd"] == pytest.approx(btc_value)
    assert row["value_usd"] < btc_value  # BTC's value is not in the current sum
    # The week BTC stopped in ends with it stale: its flows of the days it reported still count.
    stopped = T0 + BTC_LAST_OBSERVED * DAY
    weeks = loaded.market_aggregates("asset_class", "week", stopped - 2 * DAY, stopped + 5 * DAY)
    crypto = [r for r in weeks.to_pylist() if r["group"] == "crypto"]
    assert crypto[0]["transfer_count"] is not None


def test_the_rows_of_a_day_and_the_last_day(loaded: ServingStore) -> None:
    assert loaded.market_latest_day() == (T0 + (MARKET_DAYS - 1) * DAY).date()
    day = loaded.market_day((T0 + 2 * DAY).date())
    assert day.schema == MARKET.schema
    assert day.column("asset_id").to_pylist() == ["btc", "ousg"]  # usdc starts on day 3
    assert loaded.market_day(dt.date(2030, 1, 1)).num_rows == 0


def test_an_empty_store_has_no_last_day_and_no_aggregates(store: ServingStore) -> None:
    assert store.market_latest_day() is None
    assert store.market_aggregates("asset_class", "month").num_rows == 0


def test_mean_sentiment_per_asset_over_a_window(store: ServingStore) -> None:
    store.upsert_sentiment(series_rows(SENTIMENT, 5, {"asset_id": "ousg"}, base=-0.9))
    means = store.sentiment_means(T0 + DAY, T0 + 4 * DAY).to_pylist()
    assert [(m["asset_id"], m["article_count"]) for m in means] == [("ousg", 2 + 3 + 4)]
    assert means[0]["sentiment_score"] == pytest.approx((-0.8 - 0.7 - 0.6) / 3)


def test_market_loads_are_idempotent_and_refuse_what_cannot_be_served(
    store: ServingStore,
) -> None:
    rows = market_rows()
    assert store.upsert_market(rows) == rows.num_rows
    store.upsert_market(rows)
    assert store.table_counts()[MARKET.name] == rows.num_rows
    nulls = rows.set_column(
        rows.column_names.index("stale"), "stale", pa.nulls(rows.num_rows, pa.bool_())
    )
    with pytest.raises(DataContractError, match="stale"):
        store.upsert_market(nulls)
    infinite = rows.set_column(
        rows.column_names.index("yield_7d"),
        "yield_7d",
        pa.array([math.inf] * rows.num_rows, pa.float64()),
    )
    with pytest.raises(DataContractError, match="yield_7d"):
        store.upsert_market(infinite)
