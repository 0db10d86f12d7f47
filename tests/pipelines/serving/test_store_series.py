"""The serving-store contract for everything beyond assets and 1h/1d bars, on both stores
(the ``store`` fixture): the daily series the API reads, model outputs, intraday bars and
their retention, weekly bars and their refresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
import pytest

from pipelines.contracts.served import (
    ECONOMIC,
    FEATURES,
    OHLCV,
    OHLCV_INTRADAY,
    ONCHAIN,
    PREDICTIONS,
    RISK_SCORES,
    SENTIMENT,
    ServedTable,
)
from pipelines.core.errors import DataContractError, StoreUnavailableError
from pipelines.serving.duckdb_store import DuckDBStore
from pipelines.serving.store import ServingStore
from pipelines.serving.timescale_store import TimescaleStore
from tests.fixtures.sample_data import DAY, HOUR, SAMPLE_ASSETS, T0, bars
from tests.fixtures.serving import series_rows

MINUTE = dt.timedelta(minutes=1)

Read = Callable[..., pa.Table]
Upsert = Callable[[ServingStore, pa.Table], int]

#: A daily series: its table, how to upsert it, how to read one series of it, its key values.
Series = tuple[ServedTable, Upsert, Callable[[ServingStore], Read], dict[str, str]]

SERIES: dict[str, Series] = {
    "onchain": (
        ONCHAIN,
        lambda s, t: s.upsert_onchain(t),
        lambda s: lambda **kw: s.series(ONCHAIN, {"asset_id": "ousg"}, **kw),
        {"asset_id": "ousg"},
    ),
    "features": (
        FEATURES,
        lambda s, t: s.upsert_features(t),
        lambda s: lambda **kw: s.series(FEATURES, {"asset_id": "ousg"}, **kw),
        {"asset_id": "ousg"},
    ),
    "sentiment": (
        SENTIMENT,
        lambda s, t: s.upsert_sentiment(t),
        lambda s: lambda **kw: s.series(SENTIMENT, {"asset_id": "ousg"}, **kw),
        {"asset_id": "ousg"},
    ),
    "economic": (
        ECONOMIC,
        lambda s, t: s.upsert_economic(t),
        lambda s: lambda **kw: s.series(ECONOMIC, {"series_id": "DGS10", "region": "USA"}, **kw),
        {"series_id": "DGS10", "region": "USA"},
    ),
}


@pytest.fixture(params=sorted(SERIES))
def series(
    request: pytest.FixtureRequest,
) -> Series:
    return SERIES[request.param]


def days(result: pa.Table) -> list[int]:
    """Time stamps of a read as days since T0."""
    return [(ts - T0).days for ts in result.column("ts").to_pylist() if ts is not None]


# --- daily series ---------------------------------------------------------------------------


def test_series_round_trip_exactly_and_reload_is_a_no_op(
    store: ServingStore, series: Series
) -> None:
    table, upsert, reader, keys = series
    rows = series_rows(table, 5, keys)
    assert upsert(store, rows) == 5
    assert reader(store)() == rows
    assert upsert(store, rows) == 5
    assert reader(store)() == rows
    assert store.table_counts()[table.name] == 5


def test_series_upsert_replaces_changed_rows_and_keeps_nulls(
    store: ServingStore, series: Series
) -> None:
    table, upsert, reader, keys = series
    upsert(store, series_rows(table, 4, keys))
    changed = series_rows(table, 3, keys, start=T0 + 2 * DAY, base=50.0)
    nullable = [f.name for f in table.schema if f.nullable]
    changed = changed.set_column(
        changed.column_names.index(nullable[0]),
        nullable[0],
        pa.nulls(3, changed.schema.field(nullable[0]).type),
    )
    upsert(store, changed)
    result = reader(store)()
    assert days(result) == [0, 1, 2, 3, 4]
    assert result.column(nullable[0]).to_pylist()[2:] == [None, None, None]
    assert result.slice(2) == changed


def test_series_window_and_limit(store: ServingStore, series: Series) -> None:
    table, upsert, reader, keys = series
    upsert(store, series_rows(table, 10, keys).take([7, 2, 9, 0, 5, 1, 8, 3, 6, 4]))
    read = reader(store)
    assert days(read(start=T0 + 2 * DAY, end=T0 + 5 * DAY)) == [2, 3, 4]
    assert days(read(limit=3)) == [7, 8, 9]
    assert days(read(end=T0 + 4 * DAY, limit=2)) == [2, 3]
    assert read(start=T0 + 20 * DAY).num_rows == 0
    assert read(start=T0 + 20 * DAY).schema == table.schema


def test_series_of_other_keys_are_apart(store: ServingStore) -> None:
    store.upsert_onchain(series_rows(ONCHAIN, 3, {"asset_id": "ousg"}))
    store.upsert_onchain(series_rows(ONCHAIN, 2, {"asset_id": "btc"}, base=9.0))
    assert store.series(ONCHAIN, {"asset_id": "btc"}).column("nav_usd").to_pylist() == [9.0, 9.1]
    assert store.series(ONCHAIN, {"asset_id": "nope"}).num_rows == 0
    store.upsert_economic(series_rows(ECONOMIC, 2, {"series_id": "CPI", "region": "USA"}))
    store.upsert_economic(series_rows(ECONOMIC, 1, {"series_id": "CPI", "region": "DEU"}))
    assert store.economic_regions("CPI") == ["DEU", "USA"]
    assert store.economic_regions("nope") == []
    assert store.series(ECONOMIC, {"series_id": "CPI", "region": "DEU"}).num_rows == 1


def test_a_panel_reads_several_assets_series_at_once(store: ServingStore) -> None:
    store.upsert_ohlcv(
        pa.concat_tables(
            [
                bars("ousg", "1d", 3, step=DAY),
                bars("btc", "1d", 2, step=DAY, base=5.0),
                bars("btc", "1h", 2),
                bars("usdc", "1d", 2, step=DAY),
            ]
        )
    )
    daily = store.panel(OHLCV, ["ousg", "btc", "nope"], where={"resolution": "1d"})
    assert daily.schema == OHLCV.schema
    pairs = list(zip(daily["asset_id"].to_pylist(), daily["open"].to_pylist(), strict=True))
    assert pairs == [("btc", 5.0), ("btc", 6.0), ("ousg", 100.0), ("ousg", 101.0), ("ousg", 102.0)]
    window = store.panel(OHLCV, ["ousg", "btc"], T0 + DAY, T0 + 2 * DAY, {"resolution": "1d"})
    assert window["open"].to_pylist() == [6.0, 101.0]
    store.upsert_onchain(series_rows(ONCHAIN, 2, {"asset_id": "ousg"}))
    assert store.panel(ONCHAIN, ["ousg"])["nav_usd"].to_pylist() == [0.1, 0.2]
    assert store.panel(ONCHAIN, []).num_rows == 0
    with pytest.raises(ValueError, match="named by asset ids and"):
        store.panel(OHLCV, ["ousg"])  # which resolution?
    with pytest.raises(ValueError, match="named by asset ids and"):
        store.panel(ECONOMIC, ["ousg"], where={"region": "USA"})


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda t: t.drop_columns(["nav_usd"]), r"on-chain metrics lack column\(s\) \['nav_usd'\]"),
        (
            lambda t: t.set_column(1, "ts", pa.nulls(2, pa.timestamp("us", tz="UTC"))),
            r"on-chain metrics have nulls in 'ts'",
        ),
        (
            lambda t: t.set_column(1, "ts", pa.array([T0, T0], pa.timestamp("us", tz="UTC"))),
            r"on-chain metrics repeat the key \(asset_id, ts\) \('ousg', ",
        ),
        (
            lambda t: t.set_column(2, "holders", pa.array(["many", "few"])),
            r"on-chain metrics do not match the schema",
        ),
    ],
    ids=["missing-column", "null-key", "repeated-key", "wrong-type"],
)
def test_bad_series_rows_raise_a_data_contract_error(
    store: ServingStore, broken: Callable[[pa.Table], pa.Table], message: str
) -> None:
    with pytest.raises(DataContractError, match=message):
        store.upsert_onchain(broken(series_rows(ONCHAIN, 2, {"asset_id": "ousg"})))
    assert store.table_counts()[ONCHAIN.name] == 0


# --- model outputs --------------------------------------------------------------------------


def test_predictions_and_risk_scores_upsert_idempotently(store: ServingStore) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    forecast = series_rows(
        PREDICTIONS,
        7,
        {"asset_id": "ousg", "horizon_days": 7, "model_version": "arima-1", "generated_at": T0},
        time_column="target_date",
    )
    scores = series_rows(
        RISK_SCORES, 3, {"asset_id": "btc", "model_version": "risk-1"}, time_column="calculated_at"
    )
    for _ in range(2):
        assert store.upsert_predictions(forecast) == 7
        assert store.upsert_risk_scores(scores) == 3
    counts = store.table_counts()
    assert (counts["predictions"], counts["risk_scores"]) == (7, 3)


@pytest.mark.parametrize("table", [PREDICTIONS, RISK_SCORES], ids=lambda t: t.name)
def test_model_outputs_of_unknown_assets_are_refused_by_name(
    store: ServingStore, table: ServedTable
) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    time_column = "target_date" if table is PREDICTIONS else "calculated_at"
    keys = {"asset_id": "ghost", "model_version": "m", "horizon_days": 7, "generated_at": T0}
    rows = series_rows(table, 2, keys, time_column=time_column)
    upsert = store.upsert_predictions if table is PREDICTIONS else store.upsert_risk_scores
    with pytest.raises(DataContractError, match=r"unknown asset\(s\) \['ghost'\]"):
        upsert(rows)
    assert store.table_counts()[table.name] == 0


# --- intraday bars and retention ------------------------------------------------------------


def test_intraday_bars_are_served_per_resolution(store: ServingStore) -> None:
    store.upsert_ohlcv(
        pa.concat_tables(
            [
                bars("ousg", "1m", 10, step=MINUTE),
                bars("ousg", "5m", 4, step=5 * MINUTE, base=500.0),
                bars("ousg", "1h", 2, step=HOUR, base=900.0),
            ]
        )
    )
    assert [b.open for b in store.ohlcv("ousg", "1m", limit=2)] == [108.0, 109.0]
    assert [b.open for b in store.ohlcv("ousg", "5m")] == [500.0, 501.0, 502.0, 503.0]
    assert [b.open for b in store.ohlcv("ousg", "1h")] == [900.0, 901.0]
    counts = store.table_counts()
    assert (counts["ohlcv_1m"], counts["ohlcv_5m"], counts["ohlcv_1h"]) == (10, 4, 2)


def test_retention_drops_old_intraday_bars_only(store: ServingStore) -> None:
    store.upsert_ohlcv(
        pa.concat_tables(
            [
                bars("ousg", "5m", 10 * 288, step=5 * MINUTE),  # ten days of 5m bars
                bars("ousg", "1h", 10 * 24, step=HOUR),
                bars("ousg", "1d", 10, step=DAY),
            ]
        )
    )
    # A cutoff at midnight: TimescaleDB's one-day chunks then end exactly at it.
    cutoff_day = 4
    kept_for = T0 - store.retention_cutoff(T0)
    now = T0 + cutoff_day * DAY + kept_for
    result = store.apply_retention(now)
    assert result.cutoff == T0 + cutoff_day * DAY
    assert result.rows_dropped == cutoff_day * 288
    assert store.ohlcv("ousg", "5m")[0].ts == T0 + cutoff_day * DAY
    assert len(store.ohlcv("ousg", "1h")) == 240  # 1h/1d bars are kept whatever their age
    assert len(store.ohlcv("ousg", "1d")) == 10
    again = store.apply_retention(now)
    assert (again.rows_dropped, again.chunks_dropped) == (0, 0)


def test_retention_cutoff_follows_the_configured_days(store: ServingStore) -> None:
    now = dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    cutoff = store.retention_cutoff(now)
    assert cutoff.tzinfo is not None
    assert dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC) - cutoff == dt.timedelta(days=90)


# --- weekly bars ----------------------------------------------------------------------------


def test_weekly_bars_aggregate_iso_weeks_of_daily_bars(store: ServingStore) -> None:
    # T0 (2024-01-01) is a Monday: 10 days are one full week and three days of the next.
    store.upsert_ohlcv(pa.concat_tables([bars("ousg", "1d", 10, step=DAY), bars("ousg", "1h", 5)]))
    store.refresh_aggregates()
    first, second = store.ohlcv("ousg", "1w")
    assert (first.ts, first.open, first.close) == (T0, 100.0, 106.25)
    assert (first.high, first.low, first.volume) == (106.5, 99.5, sum(1000.0 + i for i in range(7)))
    assert (second.ts, second.open, second.close) == (T0 + 7 * DAY, 107.0, 109.25)
    assert store.ohlcv("ousg", "1w", start=T0 + DAY) == [second]
    assert store.table_counts()["ohlcv_1w"] == 2


def test_weekly_bars_follow_changed_daily_bars_after_refresh(store: ServingStore) -> None:
    store.upsert_ohlcv(bars("ousg", "1d", 7, step=DAY))
    store.refresh_aggregates()
    store.upsert_ohlcv(bars("ousg", "1d", 1, start=T0 + 6 * DAY, base=7.0))
    store.refresh_aggregates()
    (week,) = store.ohlcv("ousg", "1w")
    assert week.close == 7.25


def test_refresh_reports_what_it_refreshed(store: ServingStore) -> None:
    refreshed = store.refresh_aggregates()
    assert refreshed == ([] if isinstance(store, DuckDBStore) else ["ohlcv_1w"])


# --- read-only ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("refresh_aggregates", lambda s: s.refresh_aggregates()),
        ("apply_retention", lambda s: s.apply_retention(T0)),
        ("upsert_onchain", lambda s: s.upsert_onchain(series_rows(ONCHAIN, 1, {"asset_id": "x"}))),
        ("upsert_economic", lambda s: s.upsert_economic(ECONOMIC.schema.empty_table())),
    ],
    ids=["refresh", "retention", "onchain", "economic"],
)
def test_maintenance_and_series_writes_need_a_writable_store(
    store: ServingStore,
    request: pytest.FixtureRequest,
    operation: str,
    call: Callable[[ServingStore], object],
) -> None:
    if isinstance(store, DuckDBStore):
        store.close()
        reader: ServingStore = DuckDBStore(store.path, read_only=True)
    else:
        reader = TimescaleStore(request.getfixturevalue("timescale_dsn"), read_only=True)
    with reader, pytest.raises(StoreUnavailableError, match=rf"read-only: {operation} "):
        call(reader)


def test_newest_rows_give_each_series_its_rows_within_its_newest(store: ServingStore) -> None:
    """One read for every series: per (asset, resolution) of the bars, per asset of a daily
    table; ``within`` counts back from each series' own newest row."""
    store.upsert_assets(SAMPLE_ASSETS)
    store.upsert_ohlcv(
        pa.concat_tables(
            [
                bars("ousg", "1h", 5),
                bars("ousg", "1d", 3, step=DAY),
                bars("btc", "1h", 2, start=T0 + DAY, base=42_000.0),
                bars("ousg", "1m", 4, step=MINUTE),
            ]
        )
    )
    newest = store.newest_rows(OHLCV).to_pylist()
    assert [(r["asset_id"], r["resolution"], r["ts"]) for r in newest] == [
        ("btc", "1h", T0 + DAY + HOUR),
        ("ousg", "1d", T0 + 2 * DAY),
        ("ousg", "1h", T0 + 4 * HOUR),
    ]
    recent = store.newest_rows(OHLCV, dt.timedelta(hours=2)).to_pylist()
    assert [(r["asset_id"], r["resolution"], r["open"]) for r in recent] == [
        ("btc", "1h", 42_000.0),
        ("btc", "1h", 42_001.0),
        ("ousg", "1d", 102.0),
        ("ousg", "1h", 102.0),
        ("ousg", "1h", 103.0),
        ("ousg", "1h", 104.0),
    ]
    intraday = store.newest_rows(OHLCV_INTRADAY, MINUTE)
    assert intraday.column("open").to_pylist() == [102.0, 103.0]
    store.upsert_sentiment(series_rows(SENTIMENT, 4, {"asset_id": "ousg"}, base=-0.5))
    store.upsert_sentiment(series_rows(SENTIMENT, 2, {"asset_id": "btc"}, base=0.2))
    sentiment = store.newest_rows(SENTIMENT)
    assert sentiment.schema == SENTIMENT.schema
    assert sentiment.select(["asset_id", "ts"]).to_pylist() == [
        {"asset_id": "btc", "ts": T0 + DAY},
        {"asset_id": "ousg", "ts": T0 + 3 * DAY},
    ]
    assert store.newest_rows(RISK_SCORES).num_rows == 0
    with pytest.raises(ValueError, match="within"):
        store.newest_rows(SENTIMENT, -DAY)
