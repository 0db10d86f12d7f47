"""The staging jobs of a silver micro-batch as Spark jobs, run on the executors (the layout and
the driver's readers: :mod:`pipelines.silver.staging`).

Job 1 counts the batch's lines, records and days while it writes ``records/`` (a Spark
``Observation``: no second pass over the lines); job 2 counts the gate's expectation results
while it writes ``checked/`` (an ``Observation`` again).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from pipelines.silver.dedup import is_latest_of_key
from pipelines.silver.parsing import IS_RECORD, LINE_HEAD, RAW, REASON
from pipelines.silver.spec import DatasetSpec
from pipelines.silver.staging import CHECKED, LATEST, MERGE, RECORDS, StageCounts, StagedBatch

if TYPE_CHECKING:
    from pipelines.quality.spark_gate import PendingResults, SparkQualityGate


class SparkStagedBatch(StagedBatch):
    """A staging folder written by Spark jobs."""

    def __init__(self, spark: SparkSession, spec: DatasetSpec, root: Path) -> None:
        super().__init__(spec, root)
        self.spark = spark

    def stage_records(self, rows: DataFrame) -> StageCounts:
        """Job 1: write the parsed records (``rows``: :func:`parse_lines` output)."""
        day = F.col(self.spec.day_column)
        candidate = F.col(IS_RECORD) & F.col(REASON).isNull()
        # Unique: the batches of several datasets, or of a backfill and the stream of one
        # dataset in one process, may be staged at once in one session.
        observed = Observation(f"silver_{self.spec.name}_{uuid.uuid4().hex[:12]}")
        counted = rows.observe(
            observed,
            F.coalesce(F.sum(F.col(LINE_HEAD).cast("long")), F.lit(0)).alias("bronze_lines"),
            F.count(F.when(F.col(IS_RECORD), 1)).alias("records_in"),
            F.min(F.when(candidate, day)).alias("first_day"),
            F.max(F.when(candidate, day)).alias("last_day"),
        )
        records = counted.where(F.col(IS_RECORD)).drop(LINE_HEAD, IS_RECORD)
        records.write.mode("overwrite").parquet(str(self.root / RECORDS))
        metrics = observed.get
        return StageCounts.counted(
            metrics["bronze_lines"],
            metrics["records_in"],
            metrics["first_day"],
            metrics["last_day"],
        )

    def candidates(self) -> DataFrame:
        """The structurally valid records (what the quality gate checks)."""
        return self._read(RECORDS).where(F.col(REASON).isNull()).drop(REASON, RAW)

    def check(self, gate: SparkQualityGate, nav_history: DataFrame | None) -> PendingResults:
        """Job 2: gate the structurally valid records and rank each key's rows; the same job
        counts the gate's results (ready when this returns)."""
        annotated = gate.annotate(self.spec.name, self.candidates(), nav_history=nav_history)
        ranked = annotated.withColumn(
            LATEST, is_latest_of_key(self.spec.keys, F.col(REASON).isNull())
        )
        counted, results = gate.observed(self.spec.name, ranked)
        counted.write.mode("overwrite").parquet(str(self.root / CHECKED))
        return results

    def rerank_without(self, objects: Collection[str]) -> None:
        valid = self._read(CHECKED).where(F.col(REASON).isNull())
        kept = valid.where(~F.col("bronze_file").isin(*objects)).drop(LATEST)
        kept.withColumn(
            LATEST, is_latest_of_key(self.spec.keys, F.col(REASON).isNull())
        ).write.mode("overwrite").parquet(str(self.root / MERGE))

    def merge_frame(self, reranked: bool) -> DataFrame:
        """The rows to MERGE as a Spark DataFrame (for delta-spark's MERGE)."""
        rows = self._read(MERGE if reranked else CHECKED)
        return rows.where(F.col(REASON).isNull() & F.col(LATEST)).select(*self.spec.schema.names)

    def _read(self, folder: str) -> DataFrame:
        return self.spark.read.parquet(str(self.root / folder))
