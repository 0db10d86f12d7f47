"""The quarantine table: every bronze record silver refuses, with the reason.

``silver/quarantine`` is partitioned by dataset and keyed by ``record_id``, a hash of where the
record came from, what it was and why it was refused, so a replayed batch adds nothing twice.
(Two byte-identical refused lines of one bronze object are one quarantine row; the
reconciliation ledger still counts both.)

``raw`` is the bronze line for a refused line, the record's JSON as the source sent it for a
record refused by the parser, and the typed silver row as JSON for a record refused by the
quality gate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pyarrow as pa

from pipelines.lake.delta import BatchTxn, DeltaLake

_FIELDS: list[pa.Field[Any]] = [
    pa.field("dataset", pa.string()),
    pa.field("record_id", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("source", pa.string()),
    pa.field("ingest_id", pa.string()),
    pa.field("bronze_file", pa.string()),
    pa.field("fetched_at", pa.timestamp("us", tz="UTC")),
    pa.field("raw", pa.string()),
]
SCHEMA = pa.schema(_FIELDS)
#: Columns a refused row brings, besides ``raw``.
REFUSED_COLUMNS = ("source", "ingest_id", "bronze_file", "fetched_at", "reason")


def row_json(row: dict[str, Any]) -> str:
    """A typed row as JSON text (instants and dates in ISO 8601)."""
    return json.dumps(row, default=_iso, sort_keys=True, ensure_ascii=False)


def _iso(value: Any) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def quarantine_rows(dataset: str, refused: pa.Table) -> pa.Table:
    """``refused`` (:data:`REFUSED_COLUMNS` and ``raw``) in the quarantine table's shape, one
    row per distinct record_id."""
    rows: dict[str, dict[str, Any]] = {}
    for row in refused.to_pylist():
        raw = row["raw"] or ""
        identity = "\u001f".join(
            [dataset, row["bronze_file"] or "", row["ingest_id"] or "", row["reason"], raw]
        )
        record_id = hashlib.sha256(identity.encode()).hexdigest()
        rows[record_id] = {
            "dataset": dataset,
            "record_id": record_id,
            "raw": raw,
            **{name: row[name] for name in REFUSED_COLUMNS},
        }
    return pa.Table.from_pylist(list(rows.values()), schema=SCHEMA)


class QuarantineSink:
    def __init__(self, lake: DeltaLake, uri: str) -> None:
        self.lake = lake
        self.uri = uri

    def add(self, dataset: str, refused: pa.Table, txn: BatchTxn) -> int:
        """Store the refused rows of one micro-batch (insert-only, txn-guarded); returns how
        many distinct rows there were."""
        rows = quarantine_rows(dataset, refused)
        self.lake.merge(
            rows,
            self.uri,
            keys=("dataset", "record_id"),
            update_when=None,
            partition_by=("dataset",),
            txn=txn,
        )
        return rows.num_rows
