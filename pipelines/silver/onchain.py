"""``silver/onchain``: one asset-day of on-chain metrics from one source.

Its parsers are the sources' (:func:`pipelines.ingestion.registry.dataset_parsers`): daily token
metrics from the simulated source (:mod:`pipelines.ingestion.simulated.parsers`), and protocol
TVL and stablecoin supply from DefiLlama (:mod:`pipelines.ingestion.defillama.parsers`, which
also says which DefiLlama endpoint is ignored and why).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from pipelines.contracts.reference import Asset
from pipelines.ingestion.registry import dataset_parsers, ignored_endpoints
from pipelines.silver.spec import UTC_TS, DatasetSpec, silver_schema

COUNT_METRICS = ("holders", "transfer_count")
USD_METRICS = (
    "transfer_volume_usd",
    "total_supply",
    "dex_liquidity_usd",
    "exchange_inflow_usd",
    "exchange_outflow_usd",
    "nav_usd",
    "tvl_usd",
    "circulating_usd",
)
#: Metrics that are a price per token (compared with the market close), not an amount.
PER_UNIT_METRICS = ("nav_usd",)
#: Every metric column of ``silver/onchain``: the one list gold and the quality suite read.
ONCHAIN_METRICS = (*COUNT_METRICS, *USD_METRICS)
SCHEMA = silver_schema(
    pa.field("date", pa.date32()),
    pa.field("asset_id", pa.string()),
    pa.field("ts", UTC_TS),
    *(pa.field(name, pa.int64()) for name in COUNT_METRICS),
    *(pa.field(name, pa.float64()) for name in USD_METRICS),
)
KEYS = ("date", "asset_id", "source", "ts")


def onchain_spec(assets: Sequence[Asset]) -> DatasetSpec:
    return DatasetSpec(
        name="onchain",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("date",),
        parsers=dataset_parsers("onchain", assets),
        ignored=ignored_endpoints("onchain"),
    )
