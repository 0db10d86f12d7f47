"""The quarantine table: every bronze record silver refuses, with the reason.

``silver/quarantine`` is partitioned by dataset and keyed by ``record_id``, a hash of where the
record came from, what it was and why it was refused, so a replayed batch adds nothing twice.
(Two byte-identical refused lines of one bronze object are one quarantine row; the
reconciliation ledger still counts both.)

``raw`` is the bronze line for a refused line, the record's JSON as the source sent it for a
record refused by the parser, and the typed silver row as JSON for a record refused by the
quality gate, or for a valid record of a bronze object quarantined whole.

``silver/quarantined_objects`` lists the bronze objects quarantined *whole* (see
:mod:`pipelines.quality.objects`), one row per (dataset, object), with what the operator did
about each: ``quarantined`` (found broken by the silver step, waiting for an operator),
``set_aside`` (``rwa quarantine set-aside``: acknowledged, no longer judged, no longer stops the
job) and ``replayed`` (``rwa quarantine replay``, or a reprocessing that found it valid: its
records are in silver). Every write is an idempotent MERGE on the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.silver import QUARANTINE, QUARANTINED_OBJECTS
from pipelines.lake.delta import BatchTxn, DeltaLake
from pipelines.quality.objects import ObjectVerdict

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
    return pa.Table.from_pylist(list(rows.values()), schema=QUARANTINE.schema)


class QuarantineSink:
    def __init__(self, lake: DeltaLake, uri: str) -> None:
        self.lake = lake
        self.uri = uri

    def add(self, dataset: str, refused: pa.Table, txn: BatchTxn | None) -> int:
        """Store the refused rows of one micro-batch (insert-only; txn-guarded unless ``txn`` is
        None: a failing batch writes its refusals unguarded, so that the same batch, once it
        passes, still records the rows it adds then); returns how many distinct rows there
        were."""
        rows = quarantine_rows(dataset, refused)
        if not rows.num_rows and self.lake.exists(self.uri):
            # Nothing to add, nothing a replay could add twice: no commit (the table is still
            # created by the first batch, with or without refusals).
            return 0
        self.lake.merge(
            rows,
            self.uri,
            keys=QUARANTINE.keys,
            update_when=None,
            partition_by=QUARANTINE.partition_by,
            txn=txn,
        )
        return rows.num_rows


ObjectStatus = Literal["quarantined", "set_aside", "replayed"]
QUARANTINED: ObjectStatus = "quarantined"
SET_ASIDE: ObjectStatus = "set_aside"
REPLAYED: ObjectStatus = "replayed"


class QuarantinedObjects:
    """Reads and writes ``silver/quarantined_objects`` (see the module docstring)."""

    def __init__(self, lake: DeltaLake, uri: str) -> None:
        self.lake = lake
        self.uri = uri

    def rows(self, dataset: str | None = None) -> pa.Table:
        """Every listed object (of ``dataset`` only, if given), sorted by dataset and name."""
        if not self.lake.exists(self.uri):
            return QUARANTINED_OBJECTS.schema.empty_table()
        table = self.lake.to_arrow(self.uri)
        if dataset is not None:
            table = table.filter(pc.field("dataset") == dataset)
        return table.sort_by([("dataset", "ascending"), ("bronze_file", "ascending")])

    def statuses(self, dataset: str) -> dict[str, str]:
        """bronze_file -> status, for the objects of ``dataset``."""
        rows = self.rows(dataset)
        names, statuses = rows["bronze_file"].to_pylist(), rows["status"].to_pylist()
        return {str(name): str(status) for name, status in zip(names, statuses, strict=True)}

    def register(self, dataset: str, broken: Sequence[ObjectVerdict], max_share: float) -> None:
        """List objects the silver step found broken, as ``quarantined``; an object already
        listed keeps its row (what an operator did to it stands)."""
        if not broken:
            return
        now = dt.datetime.now(dt.UTC)
        rows = [
            {
                "dataset": dataset,
                "bronze_file": verdict.bronze_file,
                "status": QUARANTINED,
                "reason": verdict.describe(max_share),
                "records_in": verdict.records_in,
                "refused": verdict.refused,
                "quarantined_at": now,
                "changed_at": now,
            }
            for verdict in broken
        ]
        self._write(rows, update_when=None)

    def set_aside(self, dataset: str, bronze_file: str, note: str) -> ObjectStatus:
        """Set an object aside (listing it if it is not yet); returns its status afterwards
        (``replayed`` stays ``replayed``: its records are already in silver)."""
        current = self._row(dataset, bronze_file)
        if current is not None and current["status"] != QUARANTINED:
            return current["status"]  # type: ignore[no-any-return]
        now = dt.datetime.now(dt.UTC)
        row = current or {
            "dataset": dataset,
            "bronze_file": bronze_file,
            "reason": reasons.SET_ASIDE_UNJUDGED.text(note=f": {note}" if note else ""),
            "records_in": None,
            "refused": None,
            "quarantined_at": now,
        }
        if current is not None and note:
            row = row | {"reason": reasons.SET_ASIDE_NOTE.text(reason=current["reason"], note=note)}
        self._write([row | {"status": SET_ASIDE, "changed_at": now}], f"t.status = '{QUARANTINED}'")
        return SET_ASIDE

    def mark_replayed(self, dataset: str, bronze_files: Iterable[str]) -> None:
        """Record that listed objects' records are now in silver (objects not listed are
        left out: nothing to record)."""
        listed = self.rows(dataset).filter(pc.field("status") != REPLAYED).to_pylist()
        wanted = set(bronze_files)
        now = dt.datetime.now(dt.UTC)
        rows = [
            row | {"status": REPLAYED, "changed_at": now}
            for row in listed
            if row["bronze_file"] in wanted
        ]
        if rows:
            self._write(rows, f"t.status <> '{REPLAYED}'")

    def _row(self, dataset: str, bronze_file: str) -> dict[str, Any] | None:
        rows = self.rows(dataset).filter(pc.field("bronze_file") == bronze_file).to_pylist()
        return rows[0] if rows else None

    def _write(self, rows: list[dict[str, Any]], update_when: str | None) -> None:
        self.lake.merge(
            pa.Table.from_pylist(rows, schema=QUARANTINED_OBJECTS.schema),
            self.uri,
            keys=QUARANTINED_OBJECTS.keys,
            update_when=update_when,
        )


def format_objects(rows: pa.Table) -> str:
    """``rwa quarantine list``: one block per object (name, then status, counts and reason)."""
    if rows.num_rows == 0:
        return "no bronze object is quarantined whole"
    lines = []
    for row in rows.to_pylist():
        counts = (
            f"{row['refused']} of {row['records_in']} records refused"
            if row["records_in"] is not None
            else "not judged"
        )
        lines.append(f"{row['bronze_file']}\n  {row['dataset']}  {row['status']}  {counts}")
        lines.append(f"  {row['reason']}")
    statuses = Counter(str(status) for status in rows["status"].to_pylist())
    summary = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    lines.append(f"{rows.num_rows} objects: {summary}")
    return "\n".join(lines)
