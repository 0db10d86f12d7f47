"""Every parser of every silver dataset, on the replayed real API payloads, through the real job
(real Spark, real Delta tables, the real quality gate)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.ingestion.coingecko import MARKET_CHART_ENDPOINT, MARKETS_ENDPOINT, OHLC_ENDPOINT
from pipelines.ingestion.defillama import (
    PROTOCOL_ENDPOINT,
    STABLECOIN_CHART_ENDPOINT,
    STABLECOIN_PRICES_ENDPOINT,
    STABLECOINS_ENDPOINT,
)
from pipelines.ingestion.fred import OBSERVATIONS_ENDPOINT
from pipelines.ingestion.newsapi import EVERYTHING_ENDPOINT
from pipelines.ingestion.simulated import ONCHAIN_ENDPOINT
from pipelines.ingestion.worldbank import INDICATOR_ENDPOINT
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.silver.reconciliation import reconcile
from tests.fixtures.http_replay import fixture_bytes, fixture_json
from tests.fixtures.lake import MakeSettings, lake_of
from tests.pipelines.silver.bronze_factory import land, wrap

pytestmark = pytest.mark.usefixtures("spark")

UTC = dt.UTC


def silver_rows(settings: Settings, dataset: str, *sort: str) -> list[dict[str, Any]]:
    table = DeltaLake(settings.lake, settings.spark).to_arrow(
        LakePaths(settings.lake).silver(dataset)
    )
    return table.sort_by([(c, "ascending") for c in sort]).to_pylist()


def quarantined(settings: Settings, dataset: str) -> list[str]:
    table = DeltaLake(settings.lake, settings.spark).to_arrow(LakePaths(settings.lake).quarantine)
    return sorted(r["reason"] for r in table.to_pylist() if r["dataset"] == dataset)


def test_prices_from_coingecko_candles_and_ignored_points(make_settings: MakeSettings) -> None:
    settings = make_settings()
    fetched = dt.datetime(2024, 3, 4, tzinfo=UTC)
    land(
        Path(settings.lake.root),
        [
            wrap(
                "coingecko",
                "prices",
                OHLC_ENDPOINT,
                fixture_json("coingecko/ohlc.json"),
                fetched,
                {"id": "bitcoin", "vs_currency": "usd", "days": 7},
            ),
            wrap(
                "coingecko",
                "prices",
                MARKET_CHART_ENDPOINT,
                fixture_json("coingecko/market_chart_range.json"),
                fetched,
                {"id": "bitcoin", "vs_currency": "usd", "from": 1, "to": 2},
            ),
            wrap(
                "coingecko",
                "prices",
                MARKETS_ENDPOINT,
                fixture_json("coingecko/coins_markets.json"),
                fetched,
                {"ids": "bitcoin", "page": 1},
            ),
        ],
    )

    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    rows = silver_rows(settings, "prices", "ts")
    first_close = dt.datetime.fromtimestamp(1709395200, UTC)
    assert [r["ts"] for r in rows] == [
        first_close + dt.timedelta(hours=4 * k - 4) for k in range(4)
    ]
    assert {(r["asset_id"], r["resolution"], r["symbol_id"]) for r in rows} == {
        ("btc", "4h", "bitcoin")
    }
    assert (rows[0]["open"], rows[0]["high"], rows[0]["low"], rows[0]["close"]) == (
        61942.0,
        62211.0,
        61721.0,
        61845.0,
    )
    assert rows[0]["volume"] is None  # CoinGecko's OHLC publishes no volume
    # market_chart points and the markets snapshot are lines without records
    assert (report.bronze_lines, report.records_in, report.inserted) == (3, 4, 4)
    assert quarantined(settings, "prices") == []


def test_onchain_from_simulated_metrics_and_defillama(make_settings: MakeSettings) -> None:
    settings = make_settings(quality_max_failure_share=1.0)
    fetched = dt.datetime(2024, 1, 3, tzinfo=UTC)
    metrics = {"timestamp": "2024-01-01T00:00:00Z", "holders": 61, "nav_usd": "1.0"}
    chart = fixture_json("defillama/stablecoincharts_all.json")
    land(
        Path(settings.lake.root),
        [
            wrap(
                "simulated",
                "onchain",
                ONCHAIN_ENDPOINT,
                [metrics, {**metrics, "timestamp": "2024-01-02T00:00:00Z", "holders": "n/a"}],
                fetched,
                {"asset": "buidl"},
            ),
            wrap(
                "defillama",
                "onchain",
                PROTOCOL_ENDPOINT,
                fixture_json("defillama/protocol.json"),
                fetched,
                {"slug": "ondo-yield-assets"},
            ),
            wrap(
                "defillama",
                "onchain",
                STABLECOIN_CHART_ENDPOINT,
                chart,
                fetched,
                {"stablecoin": "1", "gecko_id": "tether"},
            ),
            # without the CoinGecko id a chart cannot be attributed: refused, not guessed
            wrap(
                "defillama",
                "onchain",
                STABLECOIN_CHART_ENDPOINT,
                chart,
                fetched,
                {"stablecoin": "1"},
            ),
            wrap(
                "defillama",
                "onchain",
                STABLECOINS_ENDPOINT,
                fixture_json("defillama/stablecoins.json"),
                fetched,
                {"includePrices": "true"},
            ),
            wrap(
                "defillama",
                "onchain",
                STABLECOIN_PRICES_ENDPOINT,
                fixture_json("defillama/stablecoinprices.json"),
                fetched,
            ),
        ],
    )

    report = steps.run_silver(Lakehouse.from_settings(settings), "onchain")

    rows = silver_rows(settings, "onchain", "source", "asset_id", "ts")
    by_key = {(r["source"], r["asset_id"], r["date"].isoformat()): r for r in rows}
    assert by_key[("simulated", "buidl", "2024-01-01")]["holders"] == 61
    assert by_key[("simulated", "buidl", "2024-01-01")]["nav_usd"] == 1.0
    # OUSG and USDY share Ondo's protocol: each gets its own token's value, not the protocol's
    assert by_key[("defillama", "ousg", "2024-01-01")]["tvl_usd"] == 132481734.21
    assert by_key[("defillama", "usdy", "2024-01-02")]["tvl_usd"] == 61154132.73
    circulating = by_key[("defillama-stablecoins", "usdt", "2024-01-01")]["circulating_usd"]
    assert circulating == 91777402517.66
    listed = {k for k in by_key if k[0] == "defillama-stablecoins" and k[2] == "2024-01-03"}
    assert ("defillama-stablecoins", "usdt", "2024-01-03") in listed
    assert all(r["ts"].time() == dt.time() for r in rows)  # start of the UTC day
    assert quarantined(settings, "onchain") == [
        "field 'holders' is not an integer",
        "field 'params.gecko_id' is missing",
        "field 'params.gecko_id' is missing",
    ]
    assert report.bronze_lines == 6
    assert reconcile(*lake_of(settings), "onchain").ok


def test_economic_from_fred_and_world_bank(make_settings: MakeSettings) -> None:
    settings = make_settings(quality_max_failure_share=1.0)
    fetched = dt.datetime(2025, 8, 1, tzinfo=UTC)
    fred = fixture_json("fred/observations_dtb3.json")
    junk = {**fred, "observations": [{"date": "2024-07-08", "value": "abc"}]}
    land(
        Path(settings.lake.root),
        [
            wrap("fred", "economic", OBSERVATIONS_ENDPOINT, fred, fetched, {"series_id": "DTB3"}),
            wrap(
                "simulated",
                "economic",
                OBSERVATIONS_ENDPOINT,
                junk,
                fetched,
                {"series_id": "DGS10"},
            ),
            wrap(
                "worldbank",
                "economic",
                INDICATOR_ENDPOINT,
                fixture_json("worldbank/indicator_usa_inflation.json"),
                fetched,
                {"iso": "USA", "code": "FP.CPI.TOTL.ZG", "page": 1},
            ),
            wrap(
                "worldbank",
                "economic",
                INDICATOR_ENDPOINT,
                fixture_json("worldbank/indicator_empty.json"),
                fetched,
                {"iso": "CHE", "code": "FR.INR.LEND", "page": 1},
            ),
        ],
    )

    report = steps.run_silver(Lakehouse.from_settings(settings), "economic")

    rows = silver_rows(settings, "economic", "series_id", "observation_date")
    dtb3 = [r for r in rows if r["series_id"] == "DTB3"]
    assert [(r["observation_date"].isoformat(), r["value"]) for r in dtb3] == [
        ("2024-07-01", 5.28),
        ("2024-07-02", 5.28),
        ("2024-07-03", 5.27),
        ("2024-07-04", None),  # FRED's "." (a holiday): no value, not an error
        ("2024-07-05", 5.26),
    ]
    assert {(r["region"], r["frequency"], r["units"], r["year"]) for r in dtb3} == {
        ("USA", "daily", "percent", 2024)
    }
    assert dtb3[0]["realtime_start"] == dt.date(2024, 7, 10)  # FRED's vintage
    inflation = [r for r in rows if r["series_id"] == "FP.CPI.TOTL.ZG"]
    assert [(r["observation_date"], r["region"], r["frequency"]) for r in inflation] == [
        (dt.date(year, 1, 1), "USA", "annual") for year in (2022, 2023, 2024)
    ]
    assert inflation[0]["units"] == "annual %"
    assert inflation[0]["realtime_start"] == fetched.date()
    assert quarantined(settings, "economic") == ["field 'value' is not a number"]
    assert (report.bronze_lines, report.records_in, report.inserted) == (4, 9, 8)


def test_news_from_newsapi_and_feeds(make_settings: MakeSettings) -> None:
    settings = make_settings(quality_max_failure_share=1.0)
    fetched = dt.datetime(2024, 7, 4, tzinfo=UTC)

    def feed(name: str) -> Any:
        return wrap(
            "news",
            "news",
            f"https://feeds.example.com/{name}",
            fixture_bytes(f"rss/{name}").decode(),
            fetched,
        )

    land(
        Path(settings.lake.root),
        [
            wrap(
                "newsapi",
                "news",
                EVERYTHING_ENDPOINT,
                fixture_json("newsapi/everything_page1.json"),
                fetched,
                {"q": "BUIDL OR BENJI", "language": "en", "page": 1},
            ),
            feed("rss2.xml"),
            feed("atom.xml"),
            feed("entity_expansion.xml"),  # a billion-laughs feed: refused, never expanded
        ],
    )

    report = steps.run_silver(Lakehouse.from_settings(settings), "news")

    rows = {r["title"]: r for r in silver_rows(settings, "news", "published_at")}
    buidl = rows["BlackRock's BUIDL tokenized fund tops $2 billion in assets"]
    assert buidl["asset_ids"] == ["buidl"]
    assert (buidl["outlet"], buidl["author"], buidl["language"]) == ("CoinDesk", "Jane Doe", "en")
    assert buidl["published_at"] == dt.datetime(2024, 7, 3, 14, 5, tzinfo=UTC)
    assert buidl["date"] == dt.date(2024, 7, 3)
    tokenized = rows["Tokenized treasury market passes $1.8 billion & keeps growing"]
    assert tokenized["asset_ids"] == ["buidl", "ousg", "ustb"]
    assert tokenized["published_at"] == dt.datetime(2024, 7, 3, 14, tzinfo=UTC)
    assert (
        tokenized["description"]
        == "OUSG, BUIDL and USTB led inflows as T-bill yields held above 5%."
    )
    assert (tokenized["outlet"], tokenized["author"]) == ("RWA Markets Desk", "A. Rivera")
    assert rows["Maple's syrupUSDC yield slips as loan book reprices"]["asset_ids"] == ["syrupusdc"]
    dip = rows["USDe briefly trades at $0.997 during funding-rate dip"]
    assert dip["asset_ids"] == ["usde"]
    assert dip["published_at"] == dt.datetime(2024, 7, 2, 20, 10, tzinfo=UTC)  # Atom <updated>
    assert dip["url"] == "https://monitor.example.com/2024/07/usde-dip"
    assert len({r["article_id"] for r in rows.values()}) == len(rows) == 6
    assert [r.split(":")[0] for r in quarantined(settings, "news")] == ["feed refused"]
    assert (report.bronze_lines, report.records_in, report.inserted) == (4, 7, 6)
    assert DeltaLake(settings.lake, settings.spark).to_arrow(
        LakePaths(settings.lake).silver("news")
    ).schema.field("asset_ids").type == pa.list_(pa.string())
