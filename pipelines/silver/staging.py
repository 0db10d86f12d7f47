"""A silver micro-batch staged as Parquet, so that no batch has to fit on the driver.

Two jobs of the batch's engine (Spark on the executors: :mod:`pipelines.silver.spark_staging`;
DuckDB in process: :mod:`pipelines.silver.duck_staging`) write a batch's staging folder, the
same layout whatever the engine:

* ``records/``: the parsed records (the parse of the engine), each with its structural
  ``reason`` (null: structurally valid) and, for refusals, its ``raw`` text. The same job counts
  the batch's bronze lines and records and the range of its days (:class:`StageCounts`).
* ``checked/``: the structurally valid records through the quality gate (the engine's twin of
  the gate), with the gate's ``reason`` (null: valid), one flag column per check and
  ``_latest``: whether a valid row is its key's latest fetch in the batch (the rule the MERGE
  applies, so the MERGE never sees a key twice; :mod:`pipelines.silver.dedup`). The
  expectation results are counted from the flags.

What reaches the driver is what the commit needs, read here with pyarrow whatever the engine:
counts, the records per bronze object (counted from the staged ``bronze_file`` column as the
driver scans it), the refused rows (quarantine keeps them with their reasons; a batch whose
refusals are many fails), and the rows to MERGE as a stream of Arrow batches read from
``checked/``. When bronze objects are quarantined whole, their rows are left out and each key's
latest row is ranked again without them, into ``merge/`` (a third job, only then).
"""

from __future__ import annotations

import datetime as dt
import shutil
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from pipelines.lake.days import DayRange
from pipelines.lake.delta import bounded_scanner
from pipelines.quality.results import ExpectationResult
from pipelines.silver.parsing import REASON
from pipelines.silver.spec import DatasetSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: A valid row that is its key's latest fetch in the batch.
LATEST = "_latest"
RECORDS, CHECKED, MERGE = "records", "checked", "merge"


class CheckedResults(Protocol):
    """The expectation results the check job counted (stored once asked for)."""

    def results(self, *, batch_id: int, run_id: str) -> list[ExpectationResult]: ...


@dataclass(frozen=True, slots=True)
class StageCounts:
    """What the first job counted while staging the records."""

    bronze_lines: int
    records_in: int
    first_day: dt.date | None
    last_day: dt.date | None

    @classmethod
    def counted(
        cls, bronze_lines: Any, records_in: Any, first_day: Any, last_day: Any
    ) -> StageCounts:
        """From an engine's aggregates (numbers of any integer type, a day or a timestamp)."""
        return cls(int(bronze_lines), int(records_in), _as_date(first_day), _as_date(last_day))


class StagedBatch(ABC):
    """The staging folder of one micro-batch (see the module docstring): the engine-neutral
    part, what the driver reads with pyarrow. The jobs that write it are the engine's
    (:class:`pipelines.silver.spark_staging.SparkStagedBatch`,
    :class:`pipelines.silver.duck_staging.DuckStagedBatch`)."""

    def __init__(self, spec: DatasetSpec, root: Path) -> None:
        self.spec = spec
        self.root = root

    @abstractmethod
    def rerank_without(self, objects: Collection[str]) -> None:
        """Job 3 (only when objects are quarantined whole): the valid rows of the other objects,
        each key's latest ranked again, written to ``merge/``."""

    def records_per_object(self) -> dict[str, int]:
        """bronze_file -> records it brought (one entry per object of the batch). Counted by
        the driver as it scans the staged ``bronze_file`` column batch by batch: no engine job
        (a Spark job's fixed cost was most of the time), and memory for one scan batch and one
        count per object, whatever the number of records."""
        counts: Counter[str] = Counter()
        for batch in bounded_scanner(self._dataset(RECORDS), columns=["bronze_file"]).to_batches():
            found = pc.value_counts(batch.column(0))
            names, records = found.field("values").to_pylist(), found.field("counts").to_pylist()
            for name, count in zip(names, records, strict=True):
                counts[str(name)] += int(count or 0)
        return dict(counts)

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

    def merge_frame(self, reranked: bool) -> DataFrame | pa.RecordBatchReader:
        """The rows to MERGE for delta-spark's MERGE (the Spark engine: a DataFrame)."""
        return self.merge_source(reranked)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # --- reading the staged Parquet --------------------------------------------------------
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
