"""A silver micro-batch staged as Parquet by Spark, so that no batch has to fit on the driver.

Two Spark jobs, run on the executors, write a batch's staging folder:

* ``records/``: the parsed records (:mod:`pipelines.silver.parsing`), each with its structural
  ``reason`` (null: structurally valid) and, for refusals, its ``raw`` text. The same job counts
  the batch's bronze lines and records and the range of its days (a Spark ``Observation``: no
  second pass over the lines).
* ``checked/``: the structurally valid records through the quality gate as Spark expressions
  (:mod:`pipelines.quality.spark_gate`), with the gate's ``reason`` (null: valid), one flag
  column per check and ``_latest``: whether a valid row is its key's latest fetch in the batch
  (the rule the MERGE applies, so the MERGE never sees a key twice). The same job counts the
  expectation results from the flags (an ``Observation`` again).

What reaches the driver is what the commit needs: counts, the records per bronze object
(counted from the staged ``bronze_file`` column as the driver scans it), the refused rows
(quarantine keeps them with their reasons; a batch whose refusals are many fails),
and the rows to MERGE as a stream of Arrow batches read from ``checked/``. When bronze objects
are quarantined whole, their rows are left out and each key's latest row is ranked again
without them (a third job, only then).
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from pipelines.lake.days import DayRange
from pipelines.lake.delta import bounded_scanner
from pipelines.silver.dedup import is_latest_of_key
from pipelines.silver.parsing import IS_RECORD, LINE_HEAD, RAW, REASON
from pipelines.silver.spec import DatasetSpec

if TYPE_CHECKING:
    from pipelines.quality.spark_gate import PendingResults, SparkQualityGate

#: A valid row that is its key's latest fetch in the batch.
LATEST = "_latest"
RECORDS, CHECKED, MERGE = "records", "checked", "merge"


@dataclass(frozen=True, slots=True)
class StageCounts:
    """What the first job counted while staging the records."""

    bronze_lines: int
    records_in: int
    first_day: dt.date | None
    last_day: dt.date | None


class StagedBatch:
    """The staging folder of one micro-batch (see the module docstring)."""

    def __init__(self, spark: SparkSession, spec: DatasetSpec, root: Path) -> None:
        self.spark = spark
        self.spec = spec
        self.root = root

    # --- the Spark jobs --------------------------------------------------------------------
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
        return StageCounts(
            bronze_lines=int(metrics["bronze_lines"]),
            records_in=int(metrics["records_in"]),
            first_day=_as_date(metrics["first_day"]),
            last_day=_as_date(metrics["last_day"]),
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

    def records_per_object(self) -> dict[str, int]:
        """bronze_file -> records it brought (one entry per object of the batch). Counted by
        the driver as it scans the staged ``bronze_file`` column batch by batch: no Spark job
        (its fixed cost was most of the time), and memory for one scan batch and one count per
        object, whatever the number of records."""
        counts: Counter[str] = Counter()
        for batch in bounded_scanner(self._dataset(RECORDS), columns=["bronze_file"]).to_batches():
            found = pc.value_counts(batch.column(0))
            names, records = found.field("values").to_pylist(), found.field("counts").to_pylist()
            for name, count in zip(names, records, strict=True):
                counts[str(name)] += int(count or 0)
        return dict(counts)

    def rerank_without(self, objects: Collection[str]) -> None:
        """Job 3 (only when objects are quarantined whole): the valid rows of the other objects,
        each key's latest ranked again, written to ``merge/``."""
        valid = self._read(CHECKED).where(F.col(REASON).isNull())
        kept = valid.where(~F.col("bronze_file").isin(*objects)).drop(LATEST)
        kept.withColumn(
            LATEST, is_latest_of_key(self.spec.keys, F.col(REASON).isNull())
        ).write.mode("overwrite").parquet(str(self.root / MERGE))

    # --- what the driver reads -------------------------------------------------------------
    def structural_refusals(self, columns: Collection[str]) -> pa.Table:
        """Records the parser refused: ``columns`` (with ``reason`` and ``raw``)."""
        return self._arrow(RECORDS, _refused(), list(columns))

    def gate_refusals(self) -> pa.Table:
        """Records the gate refused: the silver columns and ``reason``."""
        return self._arrow(CHECKED, _refused(), [*self.spec.schema.names, REASON])

    def valid_rows_of(self, objects: Collection[str]) -> pa.Table:
        """Valid rows of ``objects`` (quarantined whole): the silver columns."""
        chosen = pc.field(REASON).is_null() & pc.field("bronze_file").isin(list(objects))
        return self._arrow(CHECKED, chosen, list(self.spec.schema.names))

    def merge_source(self, reranked: bool, days: DayRange | None = None) -> pa.RecordBatchReader:
        """The rows to MERGE, as a stream: each key's latest valid row (of ``days`` only, when
        given)."""
        scanner = bounded_scanner(
            self._dataset(MERGE if reranked else CHECKED),
            columns=list(self.spec.schema.names),
            filter=self._to_merge(days),
        )
        schema = self.spec.schema
        batches = (batch.cast(schema) for batch in scanner.to_batches() if batch.num_rows)
        return pa.RecordBatchReader.from_batches(schema, batches)

    def merge_rows(self, reranked: bool, days: DayRange | None = None) -> int:
        """How many rows :meth:`merge_source` streams (counted from the Parquet metadata and
        the filter's columns)."""
        folder = self._dataset(MERGE if reranked else CHECKED)
        return int(folder.count_rows(filter=self._to_merge(days)))

    def _to_merge(self, days: DayRange | None) -> pc.Expression:
        chosen = pc.field(REASON).is_null() & (pc.field(LATEST) == pa.scalar(True))
        if days is None:
            return chosen
        day = pc.field(self.spec.day_column)
        return chosen & (day >= pa.scalar(days.first)) & (day <= pa.scalar(days.last))

    def merge_frame(self, reranked: bool) -> DataFrame:
        """The rows to MERGE as a Spark DataFrame (for delta-spark's MERGE)."""
        rows = self._read(MERGE if reranked else CHECKED)
        return rows.where(F.col(REASON).isNull() & F.col(LATEST)).select(*self.spec.schema.names)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # --- reading the staged Parquet --------------------------------------------------------
    def _read(self, folder: str) -> DataFrame:
        return self.spark.read.parquet(str(self.root / folder))

    def _dataset(self, folder: str) -> pads.Dataset:
        return pads.dataset(self.root / folder, format="parquet")

    def _arrow(self, folder: str, where: pc.Expression, columns: list[str]) -> pa.Table:
        table = self._dataset(folder).to_table(columns=columns, filter=where)
        return table.cast(_arrow_schema(self.spec, columns))


def _refused() -> pc.Expression:
    return cast(pc.Expression, pc.field(REASON).is_valid())


def _arrow_schema(spec: DatasetSpec, columns: list[str]) -> pa.Schema:
    """The declared types of ``columns`` (book-keeping columns are text)."""
    declared = {field.name: field for field in spec.schema}
    return pa.schema([declared.get(name, pa.field(name, pa.string())) for name in columns])


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value
