"""``silver/prices``: one OHLCV bar per (asset, resolution, bar start).

Its parsers are the sources' (:func:`pipelines.ingestion.registry.dataset_parsers`): CoinAPI
bars from the simulated source (:mod:`pipelines.ingestion.simulated.parsers`) and CoinGecko OHLC
candles (:mod:`pipelines.ingestion.coingecko.parsers`, which also says which CoinGecko endpoints
are ignored and why).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from pipelines.contracts.reference import Asset
from pipelines.ingestion.registry import dataset_parsers, ignored_endpoints
from pipelines.silver.spec import UTC_TS, DatasetSpec, silver_schema

SCHEMA = silver_schema(
    pa.field("date", pa.date32()),
    pa.field("asset_id", pa.string()),
    pa.field("resolution", pa.string()),
    pa.field("ts", UTC_TS),
    pa.field("open", pa.float64()),
    pa.field("high", pa.float64()),
    pa.field("low", pa.float64()),
    pa.field("close", pa.float64()),
    pa.field("volume", pa.float64()),
    pa.field("trades", pa.int64()),
    pa.field("symbol_id", pa.string()),
)
KEYS = ("date", "asset_id", "resolution", "ts")  # `date` first: lets the MERGE prune partitions


def prices_spec(assets: Sequence[Asset]) -> DatasetSpec:
    return DatasetSpec(
        name="prices",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("date",),
        parsers=dataset_parsers("prices", assets),
        ignored=ignored_endpoints("prices"),
    )
