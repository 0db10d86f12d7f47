"""The silver tables: schema, key, partitioning and day column of each (docs/data-model.md).

The four dataset tables (``silver/prices``, ``onchain``, ``economic``, ``news``) carry the
:data:`LINEAGE` columns after their own; every column is nullable in Delta (keys are guaranteed
non-null by the parsers and the gate), so a table never needs a nullability migration when a
source stops sending a metric. Beside them, silver keeps the quarantine, the list of bronze
objects quarantined whole, the reconciliation ledger and the quality results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from pipelines.contracts.envelope import Dataset
from pipelines.contracts.measures import COUNT_METRICS, USD_METRICS
from pipelines.contracts.tables import TableContract

UTC_TS = pa.timestamp("us", tz="UTC")

#: Lineage columns every silver dataset table carries (docs/data-model.md).
LINEAGE = (
    pa.field("source", pa.string()),
    pa.field("ingest_id", pa.string()),
    pa.field("fetched_at", UTC_TS),
    pa.field("bronze_file", pa.string()),
)


def silver_schema(*fields: pa.Field[Any]) -> pa.Schema:
    """A silver dataset table's schema: its own columns, then the lineage columns, all
    nullable (see the module docstring)."""
    return pa.schema([f.with_nullable(True) for f in (*fields, *LINEAGE)])


# --- the dataset tables --------------------------------------------------------------------

PRICES = TableContract(
    "prices",
    silver_schema(
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
    ),
    keys=("date", "asset_id", "resolution", "ts"),  # `date` first: lets the MERGE prune
    partition_by=("date",),
    day_column="date",
)
ONCHAIN = TableContract(
    "onchain",
    silver_schema(
        pa.field("date", pa.date32()),
        pa.field("asset_id", pa.string()),
        pa.field("ts", UTC_TS),
        *(pa.field(name, pa.int64()) for name in COUNT_METRICS),
        *(pa.field(name, pa.float64()) for name in USD_METRICS),
    ),
    keys=("date", "asset_id", "source", "ts"),
    partition_by=("date",),
    day_column="date",
)
ECONOMIC = TableContract(
    "economic",
    silver_schema(
        pa.field("year", pa.int32()),
        pa.field("series_id", pa.string()),
        pa.field("region", pa.string()),
        pa.field("observation_date", pa.date32()),
        pa.field("value", pa.float64()),
        pa.field("frequency", pa.string()),
        pa.field("units", pa.string()),
        pa.field("realtime_start", pa.date32()),
    ),
    keys=("year", "series_id", "region", "observation_date"),
    partition_by=("year",),
    day_column="observation_date",
)
NEWS = TableContract(
    "news",
    silver_schema(
        pa.field("date", pa.date32()),
        pa.field("article_id", pa.string()),
        pa.field("published_at", UTC_TS),
        pa.field("title", pa.string()),
        pa.field("description", pa.string()),
        pa.field("content", pa.string()),
        pa.field("url", pa.string()),
        pa.field("outlet", pa.string()),
        pa.field("author", pa.string()),
        pa.field("language", pa.string()),
        pa.field("asset_ids", pa.list_(pa.string())),
    ),
    keys=("date", "article_id"),
    partition_by=("date",),
    day_column="date",
)
#: ERC-20 Transfer logs and the block ranges read (docs/data-model.md): a log row per log
#: (``log_index`` >= 0), a range row per (page, contract) (``log_index`` -1, ``block_number`` the
#: first block, ``range_to`` the last). The key is the log's place in the chain: a re-read of a
#: block replaces what was there; gold drops logs that a newer range row covers but did not
#: bring back (orphaned by a reorg).
TRANSFERS = TableContract(
    "transfers",
    silver_schema(
        pa.field("date", pa.date32()),
        pa.field("chain", pa.string()),
        pa.field("block_number", pa.int64()),
        pa.field("log_index", pa.int64()),
        pa.field("contract_address", pa.string()),
        pa.field("asset_id", pa.string()),
        pa.field("block_ts", UTC_TS),
        pa.field("block_hash", pa.string()),
        pa.field("tx_hash", pa.string()),
        pa.field("from_address", pa.string()),
        pa.field("to_address", pa.string()),
        pa.field("amount_raw", pa.decimal128(38, 0)),
        pa.field("decimals", pa.int32()),
        pa.field("removed", pa.bool_()),
        pa.field("range_to", pa.int64()),
    ),
    keys=("date", "chain", "block_number", "log_index", "contract_address"),
    partition_by=("date",),
    day_column="date",
)
#: The silver dataset tables by name, in the order ``rwa silver`` runs them.
DATASET_TABLES: Mapping[Dataset, TableContract] = {
    "prices": PRICES,
    "onchain": ONCHAIN,
    "economic": ECONOMIC,
    "news": NEWS,
    "transfers": TRANSFERS,
}

# --- quarantine, ledger, quality results ---------------------------------------------------


def _schema(*fields: pa.Field[Any]) -> pa.Schema:
    return pa.schema(fields)


#: ``silver/quarantine``: every refused record with its reason
#: (:mod:`pipelines.contracts.quarantine`); ``record_id`` hashes where it came from, what it
#: was and why it was refused.
QUARANTINE = TableContract(
    "quarantine",
    _schema(
        pa.field("dataset", pa.string()),
        pa.field("record_id", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("source", pa.string()),
        pa.field("ingest_id", pa.string()),
        pa.field("bronze_file", pa.string()),
        pa.field("fetched_at", UTC_TS),
        pa.field("raw", pa.string()),
    ),
    keys=("dataset", "record_id"),
    partition_by=("dataset",),
)
#: ``silver/quarantined_objects``: bronze objects quarantined whole, with their status.
QUARANTINED_OBJECTS = TableContract(
    "quarantined_objects",
    _schema(
        pa.field("dataset", pa.string()),
        pa.field("bronze_file", pa.string()),
        pa.field("status", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("records_in", pa.int64()),
        pa.field("refused", pa.int64()),
        pa.field("quarantined_at", UTC_TS),
        pa.field("changed_at", UTC_TS),
    ),
    keys=("dataset", "bronze_file"),
)
#: The counts of a micro-batch in ``silver/reconciliation``.
RECONCILIATION_COUNTS: tuple[str, ...] = (
    "bronze_lines",
    "records_in",
    "quarantined",
    "duplicates_removed",
    "inserted",
    "updated",
)
#: ``silver/reconciliation``: one row per (dataset, stream, micro-batch).
RECONCILIATION = TableContract(
    "reconciliation",
    _schema(
        pa.field("dataset", pa.string()),
        pa.field("stream_id", pa.string()),
        pa.field("batch_id", pa.int64()),
        *(pa.field(name, pa.int64()) for name in RECONCILIATION_COUNTS),
        pa.field("processed_at", UTC_TS),
    ),
    keys=("dataset", "stream_id", "batch_id"),
)
#: ``silver/quality_results``: one row per expectation checked (a batch's or a table's).
QUALITY_RESULTS = TableContract(
    "quality_results",
    _schema(
        pa.field("result_id", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("dataset", pa.string()),
        pa.field("batch_id", pa.int64()),
        pa.field("suite", pa.string()),
        pa.field("expectation", pa.string()),
        pa.field("columns", pa.string()),
        pa.field("kwargs", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("success", pa.bool_()),
        pa.field("element_count", pa.int64()),
        pa.field("unexpected_count", pa.int64()),
        pa.field("unexpected_percent", pa.float64()),
        pa.field("observed_value", pa.string()),
        pa.field("validated_at", UTC_TS),
    ),
    keys=("dataset", "result_id"),
    partition_by=("dataset",),
)

#: Every silver table: the dataset tables, then the quarantine, the quarantined objects, the
#: reconciliation ledger and the quality results.
SILVER_TABLES: tuple[TableContract, ...] = (
    *DATASET_TABLES.values(),
    QUARANTINE,
    QUARANTINED_OBJECTS,
    RECONCILIATION,
    QUALITY_RESULTS,
)
