"""Small silver-shaped Arrow tables (docs/data-model.md) for the quality tests: one good row per
dataset, rows built by overriding its fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from pipelines.quality.suites import ONCHAIN_METRICS

UTC_TS = pa.timestamp("us", tz="UTC")
FETCHED = dt.datetime(2026, 3, 2, 0, 5, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 1)
TS = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)

_COUNTS = ("holders", "transfer_count")
_LINEAGE = [
    ("source", pa.string()),
    ("ingest_id", pa.string()),
    ("fetched_at", UTC_TS),
    ("bronze_file", pa.string()),
]
_LINEAGE_VALUES: dict[str, Any] = {
    "source": "simulated",
    "ingest_id": "i-1",
    "fetched_at": FETCHED,
    "bronze_file": "bronze/x.jsonl",
}

SCHEMAS: dict[str, pa.Schema] = {
    "prices": pa.schema(
        [
            ("date", pa.date32()),
            ("asset_id", pa.string()),
            ("resolution", pa.string()),
            ("ts", UTC_TS),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("volume", pa.float64()),
            ("trades", pa.int64()),
            ("symbol_id", pa.string()),
            *_LINEAGE,
        ]
    ),
    "onchain": pa.schema(
        [
            ("date", pa.date32()),
            ("asset_id", pa.string()),
            ("ts", UTC_TS),
            *((name, pa.int64()) for name in _COUNTS),
            *((name, pa.float64()) for name in ONCHAIN_METRICS if name not in _COUNTS),
            *_LINEAGE,
        ]
    ),
    "economic": pa.schema(
        [
            ("year", pa.int32()),
            ("series_id", pa.string()),
            ("region", pa.string()),
            ("observation_date", pa.date32()),
            ("value", pa.float64()),
            ("frequency", pa.string()),
            ("units", pa.string()),
            ("realtime_start", pa.date32()),
            *_LINEAGE,
        ]
    ),
    "news": pa.schema(
        [
            ("date", pa.date32()),
            ("article_id", pa.string()),
            ("published_at", UTC_TS),
            ("title", pa.string()),
            ("description", pa.string()),
            ("content", pa.string()),
            ("url", pa.string()),
            ("outlet", pa.string()),
            ("author", pa.string()),
            ("language", pa.string()),
            ("asset_ids", pa.list_(pa.string())),
            *_LINEAGE,
        ]
    ),
}

GOOD: dict[str, dict[str, Any]] = {
    "prices": {
        "date": DAY,
        "asset_id": "btc",
        "resolution": "1h",
        "ts": TS,
        "open": 100.0,
        "high": 110.0,
        "low": 95.0,
        "close": 105.0,
        "volume": 12.5,
        "trades": 40,
        "symbol_id": "BITSTAMP_SPOT_BTC_USD",
    },
    "onchain": {
        "date": DAY,
        "asset_id": "ousg",
        "ts": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        "holders": 120,
        "transfer_count": 30,
        "transfer_volume_usd": 1e6,
        "total_supply": 5e6,
        "nav_usd": 108.0,
        "tvl_usd": 5.4e8,
    },
    "economic": {
        "year": 2026,
        "series_id": "DGS10",
        "region": "USA",
        "observation_date": DAY,
        "value": 4.2,
        "frequency": "daily",
        "units": "percent",
        "realtime_start": dt.date(2026, 3, 2),
    },
    "news": {
        "date": DAY,
        "article_id": "a" * 64,
        "published_at": TS,
        "title": "BlackRock's BUIDL passes $2bn",
        "url": "https://example.com/buidl",
        "outlet": "Example News",
        "language": "en",
        "asset_ids": ["buidl"],
    },
}


def silver_rows(dataset: str, *overrides: dict[str, Any]) -> pa.Table:
    """One row per override dict: the dataset's good row with those fields replaced."""
    rows = [_LINEAGE_VALUES | GOOD[dataset] | changes for changes in overrides]
    return pa.Table.from_pylist(rows, schema=SCHEMAS[dataset])
