"""The generic silver step: exactly the distinct valid records, reconciliation and the schema
evolution policy -- real Spark, real Delta tables, the real gate. The refusal threshold, judged
per bronze object, is tested in test_broken_objects.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from pipelines import steps
from pipelines.contracts.silver import PRICES
from pipelines.core.errors import DataContractError
from pipelines.core.settings import Settings
from pipelines.ingestion.newsapi import EVERYTHING_ENDPOINT
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.silver.reconciliation import committed_merge_counts, reconcile
from pipelines.silver.stream import STAGING_FOLDER, STREAM_ID_FILE, resolve_engine
from tests.fixtures.lake import MakeSettings, lake_of
from tests.pipelines.silver.bronze_factory import (
    DAY0,
    hourly_bars,
    land,
    land_lines,
    price_envelope,
    wrap,
)

pytestmark = pytest.mark.usefixtures("spark")
NEXT_DAY = DAY0 + dt.timedelta(days=1)


def table(settings: Settings, name: str) -> pa.Table:
    return DeltaLake(settings.lake, settings.spark).to_arrow(LakePaths(settings.lake).silver(name))


def reasons(settings: Settings, dataset: str) -> list[str]:
    rows = (
        DeltaLake(settings.lake, settings.spark)
        .to_arrow(LakePaths(settings.lake).quarantine)
        .to_pylist()
    )
    return sorted(r["reason"] for r in rows if r["dataset"] == dataset)


def test_prices_keep_exactly_the_distinct_valid_bars(make_settings: MakeSettings) -> None:
    """Late re-sends, exact duplicates and junk: silver holds each distinct valid bar once, in
    its latest fetch; the junk is in quarantine; the ledger adds up."""
    settings = make_settings(silver_max_files_per_trigger=2, quality_max_failure_share=0.5)
    root = Path(settings.lake.root)
    first = DAY0 + dt.timedelta(days=1)
    original = price_envelope("BTC", hourly_bars(DAY0, 100.0, hours=6), first)
    # a late re-send revises the last three bars (and adds none)
    revised = hourly_bars(DAY0, 100.0, hours=6)[3:]
    for bar in revised:
        bar["price_close"] += 0.5
    late = price_envelope("BTC", revised, first + dt.timedelta(days=2))
    eth = price_envelope("ETH", hourly_bars(DAY0, 10.0, hours=4), first)
    land(root, [original, eth, late])
    # the same envelope landed again under another object name, and junk beside it
    land_lines(root, [original.to_json_line(), "not json", '{"source": "simulated"}'])

    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    silver = table(settings, "prices").sort_by([("asset_id", "ascending"), ("ts", "ascending")])
    assert silver.num_rows == 6 + 4
    btc_close = [r["close"] for r in silver.to_pylist() if r["asset_id"] == "btc"]
    assert btc_close == [101.0, 102.0, 103.0, 104.5, 105.5, 106.5]
    assert reasons(settings, "prices") == [
        "envelope field 'ingest_id' is missing",
        "line is not a JSON object",
    ]
    check = reconcile(*lake_of(settings), "prices")
    assert check.ok, check.describe()
    assert check.totals["records_in"] == 6 + 4 + 3 + 6 + 2 == report.records_in
    assert check.totals["duplicates_removed"] == 3 + 6
    assert check.silver_rows == check.totals["inserted"] == 10


def test_news_keeps_one_row_per_article(make_settings: MakeSettings) -> None:
    settings = make_settings(quality_max_failure_share=0.5)
    root = Path(settings.lake.root)
    fetched = dt.datetime(2024, 7, 4, tzinfo=dt.UTC)
    article = {
        "source": {"id": None, "name": "CoinDesk"},
        "author": None,
        "title": "USDC supply grows",
        "description": "Circle's USD Coin keeps growing.",
        "url": "https://www.CoinDesk.com/markets/usdc/?utm_source=rss#top",
        "publishedAt": "2024-07-03T14:05:00Z",
        "content": "USDC-backed lending rose; the DAILY report saw no change for DAI.",
    }
    page = {"status": "ok", "totalResults": 2, "articles": [article]}
    params = {"q": "USDC", "language": "en", "page": 1}
    corrected = {**article, "title": "USDC supply grows again", "url": article["url"].split("?")[0]}
    later = {"status": "ok", "totalResults": 1, "articles": [corrected]}
    land(
        root,
        [
            wrap("newsapi", "news", EVERYTHING_ENDPOINT, page, fetched, params),
            wrap(
                "newsapi",
                "news",
                EVERYTHING_ENDPOINT,
                later,
                fetched + dt.timedelta(hours=1),
                params,
            ),
        ],
    )
    envelope = wrap("newsapi", "news", EVERYTHING_ENDPOINT, page, fetched, params)
    land_lines(root, [envelope.to_json_line(), "{"], source="newsapi", dataset="news")

    steps.run_silver(Lakehouse.from_settings(settings), "news")

    rows = table(settings, "news").to_pylist()
    assert len(rows) == 1  # one canonical URL: one article, in its latest version
    assert rows[0]["title"] == "USDC supply grows again"
    assert rows[0]["asset_ids"] == ["usdc", "dai"]  # "DAILY" names nothing, "DAI" does
    assert reasons(settings, "news") == ["malformed JSON line"]
    assert reconcile(*lake_of(settings), "news").ok


def test_a_declared_column_missing_from_the_table_is_added_without_a_rewrite(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    uri = LakePaths(settings.lake).silver("prices")
    old = pa.Table.from_pylist(
        [
            {
                "date": DAY0.date() - dt.timedelta(days=1),
                "asset_id": "eth",
                "resolution": "1h",
                "ts": DAY0 - dt.timedelta(hours=1),
                **{c: 10.0 for c in ("open", "high", "low", "close", "volume")},
                "trades": 1,
                "source": "simulated",
                "ingest_id": "old",
                "fetched_at": DAY0,
                "bronze_file": "bronze/old.jsonl",
            }
        ],
        schema=PRICES.schema.remove(PRICES.schema.get_field_index("symbol_id")),
    )
    write_deltalake(uri, old, partition_by=["date"])
    files_before = set(DeltaTable(uri).file_uris())
    land(Path(settings.lake.root), [price_envelope("BTC", hourly_bars(DAY0, 10.0, 2), NEXT_DAY)])

    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert report.columns_added == ["symbol_id"]
    assert files_before <= set(DeltaTable(uri).file_uris())  # the old file is not rewritten
    rows = {r["asset_id"]: r["symbol_id"] for r in table(settings, "prices").to_pylist()}
    assert rows == {"eth": None, "btc": "SIMEX_SPOT_BTC_USD"}


def test_a_table_conflicting_with_the_contract_stops_before_the_stream(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    uri = LakePaths(settings.lake).silver("prices")
    index = PRICES.schema.get_field_index("volume")
    conflicting = PRICES.schema.set(index, pa.field("volume", pa.string()))
    write_deltalake(uri, conflicting.empty_table())
    land(Path(settings.lake.root), [price_envelope("BTC", hourly_bars(DAY0, 10.0, 2), NEXT_DAY)])

    with pytest.raises(DataContractError, match="column 'volume' is string in the table, double"):
        steps.run_silver(Lakehouse.from_settings(settings), "prices")
    assert not LakePaths(settings.lake).checkpoint("silver_prices").exists()


def test_a_commit_the_ledger_missed_is_recovered_from_the_delta_log(
    make_settings: MakeSettings,
) -> None:
    """After a crash between the silver commit and the ledger commit, the replayed batch takes
    its inserted/updated counts from the commit itself."""
    settings = make_settings(silver_max_files_per_trigger=1)
    root = Path(settings.lake.root)
    land(root, [price_envelope("BTC", hourly_bars(DAY0, 10.0, 3), NEXT_DAY)])
    first = steps.run_silver(Lakehouse.from_settings(settings), "prices")
    revised = hourly_bars(DAY0, 10.0, 4)
    land(root, [price_envelope("BTC", revised, NEXT_DAY + dt.timedelta(days=1))])
    second = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    paths = LakePaths(settings.lake)
    stream = (paths.checkpoint("silver_prices") / "rwa-stream-id").read_text()
    app_id = f"silver.prices.{stream}"
    lake = DeltaLake(settings.lake, settings.spark)
    uri = paths.silver("prices")
    assert (
        committed_merge_counts(settings.lake, lake, uri, app_id, 0) == (first.inserted, 0) == (3, 0)
    )
    assert committed_merge_counts(settings.lake, lake, uri, app_id, 1) == (1, 3)
    assert (second.inserted, second.updated, second.duplicates_removed) == (1, 3, 3)
    ledger = json.dumps(reconcile(*lake_of(settings), "prices").totals, sort_keys=True)
    assert reconcile(*lake_of(settings), "prices").ok, ledger


@pytest.mark.parametrize(
    ("engine", "master", "native", "chosen"),
    [
        ("auto", "local[2]", False, "duckdb"),
        ("auto", "local[*]", True, "spark"),  # delta-spark's MERGE takes a Spark DataFrame
        ("auto", "spark://cluster:7077", False, "spark"),
        ("duckdb", "spark://cluster:7077", False, "duckdb"),
        ("spark", "local[2]", False, "spark"),
    ],
)
def test_the_engine_setting_picks_duckdb_on_a_local_master_with_delta_rs(
    engine: str, master: str, native: bool, chosen: str
) -> None:
    spark = Settings(silver_engine=engine, spark_master=master).spark
    assert resolve_engine(spark, native_delta=native) == chosen


def test_a_crashed_attempt_s_staged_files_are_not_counted_again(
    make_settings: MakeSettings,
) -> None:
    """A batch killed while staging leaves its staged Parquet behind (no cleanup runs after a
    kill); the rerun of that batch stages afresh instead of reading the leftover too (which
    counted its records twice and gave the MERGE a key twice)."""
    settings = make_settings()
    root = Path(settings.lake.root)
    land(root, [price_envelope("BTC", hourly_bars(DAY0, 100.0, hours=4), NEXT_DAY)])
    lakehouse = Lakehouse.from_settings(settings)
    checkpoint = Path(LakePaths(settings.lake).checkpoint("silver_prices"))
    checkpoint.mkdir(parents=True)
    (checkpoint / STREAM_ID_FILE).write_text("crashed0001")
    leftover = checkpoint / STAGING_FOLDER / "crashed0001-0" / "records"
    leftover.mkdir(parents=True)
    stale = pa.table({"reason": pa.array(["stale"], pa.string())})
    pq.write_table(stale, leftover / "part-from-a-killed-run.parquet")

    report = steps.run_silver(lakehouse, "prices")

    assert (report.records_in, report.quarantined, report.inserted) == (4, 0, 4)
    assert reconcile(*lake_of(settings), "prices").ok
