"""lake -> serving store (``load_gold``) on both real stores, from real Delta tables shaped as
docs/data-model.md describes (built here with delta-rs; the gold steps have their own tests).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from models.forecast.batch import prediction_rows
from models.forecast.forecasters import NaiveForecaster
from models.risk.batch import score_rows
from models.risk.engine import score_asset
from models.risk.market import MarketHistory
from pipelines.contracts.served import ECONOMIC, FEATURES, MARKET, ONCHAIN
from pipelines.core.errors import DataContractError
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.serving import load as load_module
from pipelines.serving.load import SOURCES, load_gold
from pipelines.serving.store import ServingStore
from tests.fixtures.lake import MakeSettings
from tests.fixtures.market import market_rows
from tests.fixtures.sample_data import DAY, SAMPLE_ASSETS, T0, bars
from tests.fixtures.serving import series_rows
from tests.fixtures.signals import signal_table

NOW = T0 + 10 * DAY


def with_date(table: pa.Table, new_name: str = "date") -> pa.Table:
    """A served-shape table as the lake holds it: ``ts`` replaced by a ``date`` column."""
    dates = pc.cast(table.column("ts"), pa.date32())
    return table.set_column(table.column_names.index("ts"), new_name, dates)


def gold_ohlcv(resolution: str, n: int, step: dt.timedelta, start: dt.datetime = T0) -> pa.Table:
    table = bars("ousg", resolution, n, start=start, step=step)
    extra = {"trades": pa.array([7] * n, pa.int64()), "source_bars": pa.array([1] * n, pa.int64())}
    for name, column in extra.items():
        table = table.append_column(name, column)
    return table.append_column("date", pc.cast(table.column("ts"), pa.date32()))


def model_outputs() -> tuple[pa.Table, pa.Table]:
    """``gold/predictions`` (7 + 30 days ahead) and ``gold/risk_scores`` (one row) of OUSG, as
    the model steps write them."""
    closes = np.linspace(100.0, 101.0, 60)
    last = (T0 + 9 * DAY).date()
    generated = T0 + 10 * DAY
    forecast = NaiveForecaster().forecast(closes, 30)
    predictions = prediction_rows("ousg", forecast, last, generated, "naive@1")
    ousg = next(a for a in SAMPLE_ASSETS if a.asset_id == "ousg")
    history = MarketHistory(closes, closes, closes, None, None, None)
    risk = score_rows([score_asset(ousg, history, last)])
    return predictions, risk


@pytest.fixture
def lake_settings(make_settings: MakeSettings) -> Settings:
    """A lake with every source but gold/sentiment_daily and gold/news_articles (not built
    yet)."""
    settings = make_settings()
    paths = LakePaths(settings.lake)
    five_minutes = dt.timedelta(minutes=5)
    tables = {
        paths.gold("ohlcv_1h"): gold_ohlcv("1h", 48, dt.timedelta(hours=1)),
        paths.gold("ohlcv_1d"): gold_ohlcv("1d", 10, DAY),
        # 5m bars on day 0 and day 9: with 90-day retention as of NOW + 85 days, day 0 is
        # already expired and must not be loaded at all.
        paths.gold("ohlcv_5m"): pa.concat_tables(
            [gold_ohlcv("5m", 12, five_minutes), gold_ohlcv("5m", 12, five_minutes, T0 + 9 * DAY)]
        ),
        paths.gold("ohlcv_1m"): gold_ohlcv("1m", 0, dt.timedelta(minutes=1)),
        paths.gold("features_daily"): with_date(series_rows(FEATURES, 10, {"asset_id": "ousg"})),
        paths.gold("onchain_daily"): with_date(series_rows(ONCHAIN, 10, {"asset_id": "ousg"})),
        paths.gold("market_daily"): with_date(market_rows()),
        paths.silver("economic"): with_date(
            series_rows(ECONOMIC, 5, {"series_id": "DGS10", "region": "USA"}), "observation_date"
        ).append_column("year", pa.array([2024] * 5, pa.int32())),
        paths.gold("macro_asof"): pa.table({"asset_id": ["ousg"], "value": [1.0]}),
        paths.gold("predictions"): model_outputs()[0],
        paths.gold("risk_scores"): model_outputs()[1],
        paths.gold("signals"): signal_table(["ousg"]),
    }
    for uri, table in tables.items():
        write_deltalake(uri, table)
    return settings


def load(store: ServingStore, settings: Settings) -> dict[str, int]:
    report = load_gold(
        store,
        DeltaLake(settings.lake, settings.spark),
        LakePaths(settings.lake),
        now=NOW + 85 * DAY,
    )
    assert report.missing == ["gold/sentiment_daily", "gold/news_articles"]
    assert report.retention is not None
    return report.rows


def test_every_built_source_is_loaded_once_and_reloading_changes_nothing(
    store: ServingStore, lake_settings: Settings
) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    first = load(store, lake_settings)
    counts = store.table_counts()
    assert first == {
        "gold/ohlcv_1m": 0,
        "gold/ohlcv_5m": 12,
        "gold/ohlcv_1h": 48,
        "gold/ohlcv_1d": 10,
        "gold/features_daily": 10,
        "gold/onchain_daily": 10,
        "gold/market_daily": market_rows().num_rows,
        "gold/predictions": 37,
        "gold/risk_scores": 1,
        "gold/signals": 3,
        "silver/economic": 5,
    }
    assert load(store, lake_settings) == first
    assert store.table_counts() == counts
    assert (counts["ohlcv_5m"], counts["ohlcv_1w"], counts["economic_indicators"]) == (12, 2, 5)


def test_loaded_rows_equal_the_lake_in_the_served_shape(
    store: ServingStore, lake_settings: Settings
) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    load(store, lake_settings)
    assert store.series(FEATURES, {"asset_id": "ousg"}) == series_rows(
        FEATURES, 10, {"asset_id": "ousg"}
    )
    predictions, risk = model_outputs()
    assert store.latest_predictions("ousg", 30) == predictions.filter(
        pc.equal(predictions["horizon_days"], 30)
    )
    served = store.latest_risk_scores()
    # JSONB normalises the text of the factors (TimescaleDB); the JSON itself is unchanged
    assert served.drop_columns(["factors"]) == risk.drop_columns(["date", "factors"])
    assert json.loads(served["factors"][0].as_py()) == json.loads(risk["factors"][0].as_py())
    onchain = series_rows(ONCHAIN, 10, {"asset_id": "ousg"})
    assert store.series(ONCHAIN, {"asset_id": "ousg"}, start=T0 + 8 * DAY) == onchain.slice(8)
    assert store.series(ECONOMIC, {"series_id": "DGS10", "region": "USA"}) == series_rows(
        ECONOMIC, 5, {"series_id": "DGS10", "region": "USA"}
    )
    assert store.series(MARKET, {"asset_id": "usdc"}) == market_rows().filter(
        pc.equal(market_rows()["asset_id"], "usdc")
    )
    assert store.ohlcv("ousg", "5m")[0].ts == T0 + 9 * DAY
    (first_week, _) = store.ohlcv("ousg", "1w")
    assert (first_week.ts, first_week.open) == (T0, 100.0)


def test_every_source_is_a_lake_table_of_the_data_model() -> None:
    assert [s.label for s in SOURCES] == [
        "gold/ohlcv_1m",
        "gold/ohlcv_5m",
        "gold/ohlcv_1h",
        "gold/ohlcv_1d",
        "gold/features_daily",
        "gold/onchain_daily",
        "gold/market_daily",
        "gold/sentiment_daily",
        "gold/predictions",
        "gold/risk_scores",
        "gold/signals",
        "gold/news_articles",
        "silver/economic",
    ]


def _overwrite(settings: Settings, name: str, table: pa.Table) -> None:
    write_deltalake(LakePaths(settings.lake).gold(name), table, mode="overwrite")


def _with_column(table: pa.Table, name: str, values: list[float | None]) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, pa.array(values, pa.float64()))


def test_bars_without_volume_are_loaded_and_served_as_none(
    store: ServingStore, lake_settings: Settings
) -> None:
    # CoinGecko's OHLC bars have no volume; gold keeps it null, and the load must not refuse.
    daily = gold_ohlcv("1d", 10, DAY)
    _overwrite(lake_settings, "ohlcv_1d", _with_column(daily, "volume", [None] * 10))
    store.upsert_assets(SAMPLE_ASSETS)
    assert load(store, lake_settings)["gold/ohlcv_1d"] == 10
    assert {bar.volume for bar in store.ohlcv("ousg", "1d")} == {None}
    assert {bar.volume for bar in store.ohlcv("ousg", "1w")} == {None}
    assert [bar.open for bar in store.ohlcv("ousg", "1d")] == [100.0 + i for i in range(10)]


def test_a_non_finite_number_in_gold_fails_the_load_naming_table_and_column(
    store: ServingStore, lake_settings: Settings
) -> None:
    hourly = gold_ohlcv("1h", 48, dt.timedelta(hours=1))
    highs = hourly.column("high").to_pylist()
    highs[5] = float("inf")
    _overwrite(lake_settings, "ohlcv_1h", _with_column(hourly, "high", highs))
    store.upsert_assets(SAMPLE_ASSETS)
    with pytest.raises(DataContractError, match=r"table 'ohlcv'\) have 1 non-finite .* 'high'"):
        load(store, lake_settings)
    assert store.ohlcv("ousg", "1h") == []


def test_the_load_reads_each_table_in_bounded_batches(
    store: ServingStore, lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No table comes to the driver whole: each is read batch by batch and upserted in slices
    of BATCH_ROWS (the driver's memory does not grow with the lake), loading what a whole read
    loads."""
    store.upsert_assets(SAMPLE_ASSETS)
    whole = load(store, lake_settings)
    upserted: list[int] = []
    original = load_module.upsert_in_batches

    def recording(store_: ServingStore, upsert: object, rows: object) -> int:
        assert not isinstance(rows, pa.Table), "a whole table reached the load"

        def counted(s: ServingStore, chunk: pa.Table) -> int:
            upserted.append(chunk.num_rows)
            return upsert(s, chunk)  # type: ignore[operator]

        return original(store_, counted, rows)  # type: ignore[arg-type]

    def no_whole_reads(*_: object, **__: object) -> pa.Table:
        raise AssertionError("the load read a whole table")

    monkeypatch.setattr(load_module, "BATCH_ROWS", 5)
    monkeypatch.setattr(load_module, "upsert_in_batches", recording)
    monkeypatch.setattr(DeltaLake, "to_arrow", no_whole_reads)
    assert load(store, lake_settings) == whole
    assert upserted and max(upserted) <= 5


def test_a_table_read_a_day_at_a_time_is_upserted_in_full_batches(
    store: ServingStore, lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gold partitions by date, so the lake yields one file, one day, at a time; the load
    gathers them into upserts of BATCH_ROWS rows (an upsert per day cost a transaction and a
    look-up of the stored rows each: the load grew with the square of the days)."""
    hourly = gold_ohlcv("1h", 96, dt.timedelta(hours=1))
    write_deltalake(
        LakePaths(lake_settings.lake).gold("ohlcv_1h"),
        hourly,
        mode="overwrite",
        partition_by=["date"],
        schema_mode="overwrite",
    )
    store.upsert_assets(SAMPLE_ASSETS)
    upserted: list[int] = []
    upsert_ohlcv = store.upsert_ohlcv

    def recording(rows: pa.Table) -> int:
        if rows.num_rows and rows.column("resolution")[0].as_py() == "1h":
            upserted.append(rows.num_rows)
        return upsert_ohlcv(rows)

    monkeypatch.setattr(store, "upsert_ohlcv", recording)
    monkeypatch.setattr(load_module, "BATCH_ROWS", 40)
    assert load(store, lake_settings)["gold/ohlcv_1h"] == 96
    assert upserted == [40, 40, 16]
    served = store.ohlcv("ousg", "1h")
    assert [(bar.ts, bar.close) for bar in served] == list(
        zip(hourly.column("ts").to_pylist(), hourly.column("close").to_pylist(), strict=True)
    )
