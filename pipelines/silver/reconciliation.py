"""The reconciliation ledger of the silver streams, and the check that it adds up.

``silver/reconciliation`` holds one row per (dataset, stream, micro-batch), MERGEd insert-only
on that key, so a replayed batch never counts twice. Per batch:

* ``bronze_lines``: bronze lines read (records, refused lines, empty answers, ignored endpoints);
* ``records_in``: bronze records (bars, observations, articles, ...) plus refused lines;
* ``quarantined``: refused by the parser (structure) or by the quality gate (business rules);
* ``duplicates_removed``: valid records that did not add a silver row -- duplicates of another
  record of the same batch (the older fetch is dropped), and records whose key was already in
  silver, whether the record replaced the stored row (a newer fetch: ``updated``) or not;
* ``inserted`` / ``updated``: silver rows the MERGE inserted / replaced.

So ``records_in == inserted + quarantined + duplicates_removed`` for every batch, and the silver
table holds exactly the sum of ``inserted`` rows. :func:`reconcile` checks both and says what
does not add up.

A bronze object quarantined whole counts all its records as ``quarantined`` in its batch. Its
replay (``rwa quarantine replay``) is a batch of its own, under a stream id ``replay-<hash of
the object>``: the object's records are counted ``records_in`` there once more, and land as
``inserted``/``duplicates_removed`` (or ``quarantined`` again). The report states those replayed
records and the objects quarantined whole, by status, beside the totals.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts.silver import (
    QUARANTINED_OBJECTS,
    RECONCILIATION,
    RECONCILIATION_COUNTS,
)
from pipelines.core.settings import LakeSettings
from pipelines.lake.delta import APPENDED_ROWS, DeltaLake, lake_key
from pipelines.lake.objects import ObjectStore, open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.silver.quarantine import QuarantinedObjects

#: Stream ids of replays of quarantined objects start with this.
REPLAY_STREAM_PREFIX = "replay-"


@dataclass(frozen=True, slots=True)
class BatchCounts:
    bronze_lines: int
    records_in: int
    quarantined: int
    duplicates_removed: int
    inserted: int
    updated: int


class Ledger:
    """Reads and writes ``silver/reconciliation``."""

    def __init__(self, lake: DeltaLake, uri: str) -> None:
        self.lake = lake
        self.uri = uri

    def has(self, dataset: str, stream_id: str, batch_id: int) -> bool:
        """Whether the batch is already recorded (a replay: nothing left to do)."""
        if not self.lake.exists(self.uri):
            return False
        condition = (
            (pc.field("dataset") == dataset)
            & (pc.field("stream_id") == stream_id)
            & (pc.field("batch_id") == batch_id)
        )
        dataset_ = self.lake.table(self.uri).to_pyarrow_dataset()
        return bool(dataset_.count_rows(filter=condition) > 0)

    def record(self, dataset: str, stream_id: str, batch_id: int, counts: BatchCounts) -> None:
        row = {
            "dataset": dataset,
            "stream_id": stream_id,
            "batch_id": batch_id,
            **{name: getattr(counts, name) for name in RECONCILIATION_COUNTS},
            "processed_at": dt.datetime.now(dt.UTC),
        }
        self.lake.merge(
            pa.Table.from_pylist([row], schema=RECONCILIATION.schema),
            self.uri,
            keys=RECONCILIATION.keys,
            update_when=None,
        )

    def rows(self, dataset: str) -> pa.Table:
        if not self.lake.exists(self.uri):
            return RECONCILIATION.schema.empty_table()
        return self.lake.to_arrow(self.uri).filter(pc.field("dataset") == dataset)


@dataclass
class ReconciliationReport:
    dataset: str
    batches: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    silver_rows: int = 0
    problems: list[str] = field(default_factory=list)
    #: Records re-read by replays of quarantined objects (also counted in ``records_in``).
    replayed_records: int = 0
    #: Bronze objects quarantined whole, by status (quarantined, set_aside, replayed).
    objects: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        t = self.totals
        summary = (
            f"silver/{self.dataset}: {self.batches} batches, {t.get('records_in', 0):,} records in "
            f"= {t.get('inserted', 0):,} inserted + {t.get('quarantined', 0):,} quarantined + "
            f"{t.get('duplicates_removed', 0):,} duplicates removed; "
            f"{self.silver_rows:,} silver rows"
        )
        if self.objects:
            by_status = ", ".join(f"{n} {status}" for status, n in sorted(self.objects.items()))
            summary += (
                f"; bronze objects quarantined whole: {by_status} (`rwa quarantine list`), "
                f"{self.replayed_records:,} records re-read by replays"
            )
        return summary if self.ok else summary + "; DOES NOT ADD UP: " + "; ".join(self.problems)


def reconcile(lake: DeltaLake, paths: LakePaths, dataset: str) -> ReconciliationReport:
    """Check the ledger of ``dataset`` over all its batches (see the module docstring)."""
    ledger = Ledger(lake, paths.reconciliation).rows(dataset)
    report = ReconciliationReport(dataset, batches=ledger.num_rows)
    report.totals = {name: int(pc.sum(ledger[name]).as_py() or 0) for name in RECONCILIATION_COUNTS}
    replays = ledger.filter(pc.starts_with(ledger["stream_id"], REPLAY_STREAM_PREFIX))
    report.replayed_records = int(pc.sum(replays["records_in"]).as_py() or 0)
    objects = QuarantinedObjects(lake, paths.silver(QUARANTINED_OBJECTS.name)).rows(dataset)
    report.objects = dict(Counter(str(status) for status in objects["status"].to_pylist()))
    for row in ledger.to_pylist():
        accounted = row["inserted"] + row["quarantined"] + row["duplicates_removed"]
        if row["records_in"] != accounted:
            report.problems.append(
                f"stream {row['stream_id']} batch {row['batch_id']}: records_in "
                f"{row['records_in']} != inserted {row['inserted']} + quarantined "
                f"{row['quarantined']} + duplicates_removed {row['duplicates_removed']} "
                f"(= {accounted})"
            )
    report.silver_rows = lake.count_rows(paths.silver(dataset))
    if report.silver_rows != report.totals["inserted"]:
        report.problems.append(
            f"silver/{dataset} holds {report.silver_rows} rows but the ledger recorded "
            f"{report.totals['inserted']} inserted"
        )
    return report


def committed_merge_counts(
    settings: LakeSettings, lake: DeltaLake, uri: str, app_id: str, version: int
) -> tuple[int, int]:
    """(inserted, updated) of the commit that carried application transaction
    ``(app_id, version)``: what a batch did before a crash stopped it from recording so.
    Found in the Delta log (commit metrics sit in ``commitInfo``, the transaction in a ``txn``
    action of the same commit file; an append of new days, which carries the transactions of
    several windows, names each one's rows in its metadata). (0, 0) if no such commit is
    found."""
    store = open_object_store(settings)
    prefix = lake_key(settings, uri)
    for commit in lake.table(uri).history():
        if commit.get("operation") not in ("MERGE", "WRITE"):
            continue
        if _carries_txn(
            store, f"{prefix}/_delta_log/{int(commit['version']):020d}.json", app_id, version
        ):
            if APPENDED_ROWS in commit:
                return int(json.loads(commit[APPENDED_ROWS])[app_id]), 0
            metrics = commit.get("operationMetrics") or {}
            inserted = metrics.get("num_target_rows_inserted", metrics.get("num_added_rows", 0))
            return int(inserted), int(metrics.get("num_target_rows_updated", 0))
    return 0, 0


def _carries_txn(store: ObjectStore, key: str, app_id: str, version: int) -> bool:
    for line in store.get(key).decode().splitlines():
        action = json.loads(line)
        txn = action.get("txn")
        if txn and txn.get("appId") == app_id and int(txn.get("version", -1)) == version:
            return True
    return False
