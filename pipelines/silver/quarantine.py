"""The quarantine table: every bronze record silver refuses, with the reason.

``silver/quarantine`` is partitioned by dataset and keyed by ``record_id``, a hash of where the
record came from, what it was and why it was refused, so a replayed batch adds nothing twice.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.lake.delta import BatchTxn, DeltaLake

QUARANTINE_COLUMNS = (
    "dataset",
    "record_id",
    "reason",
    "source",
    "ingest_id",
    "bronze_file",
    "fetched_at",
    "raw",
)


class QuarantineSink:
    def __init__(self, lake: DeltaLake, uri: str) -> None:
        self.lake = lake
        self.uri = uri

    def add(self, rejected: DataFrame, dataset: str, batch_id: int) -> int:
        """Store the rejected rows of one micro-batch; returns how many there were.

        ``rejected`` has the columns source, ingest_id, bronze_file, fetched_at, reason, raw.
        """
        identity = F.concat_ws(
            "\u001f",
            F.lit(dataset),
            F.coalesce("bronze_file", F.lit("")),
            F.coalesce("ingest_id", F.lit("")),
            F.col("reason"),
            F.coalesce("raw", F.lit("")),
        )
        rows = (
            rejected.withColumn("dataset", F.lit(dataset))
            .withColumn("record_id", F.sha2(identity, 256))
            .dropDuplicates(["record_id"])
            .select(*QUARANTINE_COLUMNS)
        )
        outcome = self.lake.merge(
            rows,
            self.uri,
            keys=("dataset", "record_id"),
            update_when=None,
            partition_by=("dataset",),
            txn=BatchTxn(f"silver.quarantine.{dataset}", batch_id),
        )
        return outcome.rows_in
