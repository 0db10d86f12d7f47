"""Loading gold tables into the serving store, as idempotent upserts."""

from __future__ import annotations

import pyarrow as pa

from pipelines.lake.delta import DeltaLake
from pipelines.serving.base import OHLCV_SCHEMA, ServingStore


def load_gold_ohlcv(store: ServingStore, lake: DeltaLake, gold_uri: str) -> int:
    """Upsert every bar of one gold OHLCV table; returns rows loaded."""
    gold = lake.to_arrow(gold_uri)
    bars = gold.select(OHLCV_SCHEMA.names).cast(OHLCV_SCHEMA)
    # Large loads go in slices so the staging memory of either store stays bounded.
    loaded = 0
    for batch in bars.to_batches(max_chunksize=200_000):
        loaded += store.upsert_ohlcv(pa.Table.from_batches([batch], schema=OHLCV_SCHEMA))
    return loaded
