"""Small silver-shaped Arrow tables (docs/data-model.md) for the quality tests: one good row per
dataset, rows built by overriding its fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa

from pipelines.reference import load_assets
from pipelines.silver.registry import SILVER_DATASETS, dataset_spec

FETCHED = dt.datetime(2026, 3, 2, 0, 5, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 1)
TS = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)

_LINEAGE_VALUES: dict[str, Any] = {
    "source": "simulated",
    "ingest_id": "i-1",
    "fetched_at": FETCHED,
    "bronze_file": "bronze/x.jsonl",
}

#: The silver tables' declared schemas: rows are built to the contract.
SCHEMAS: dict[str, pa.Schema] = {
    name: dataset_spec(name, load_assets()).schema for name in SILVER_DATASETS
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
    "transfers": {
        "date": DAY,
        "chain": "ethereum",
        "block_number": 21_000_000,
        "log_index": 3,
        "contract_address": "0x1b19c19393e2d034d8ff31ff34c81252fcbbee92",
        "asset_id": "ousg",
        "block_ts": TS,
        "amount_raw": Decimal(10**18),
        "decimals": 18,
        "removed": False,
    },
}


def silver_rows(dataset: str, *overrides: dict[str, Any]) -> pa.Table:
    """One row per override dict: the dataset's good row with those fields replaced."""
    rows = [_LINEAGE_VALUES | GOOD[dataset] | changes for changes in overrides]
    return pa.Table.from_pylist(rows, schema=SCHEMAS[dataset])
