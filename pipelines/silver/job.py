"""The one silver streaming job: bronze objects of a dataset -> its keyed silver Delta table.

Spark Structured Streaming over the dataset's bronze folders (``availableNow``: drain what is
there, then stop; ``maxFilesPerTrigger`` objects per micro-batch). Per micro-batch:

1. Spark parses the lines into typed candidate rows (:mod:`pipelines.silver.parsing`) and the
   batch is collected once, as Arrow;
2. the structurally valid rows go through the quality gate (:mod:`pipelines.quality.gate`);
3. structural and quality refusals are stored in ``silver/quarantine`` with their reasons;
4. if the refused share exceeds ``quality_max_failure_share`` the batch fails with a
   :class:`DataQualityError` and nothing of it is merged (Spark's checkpoint does not advance,
   so a rerun processes it again);
5. the valid rows are deduplicated (latest fetch wins) and MERGEd into the table;
6. the batch's counts are added to ``silver/reconciliation``.

Exactly once: the commits carry the Delta application transaction ``(app_id, batch_id)``, the
ledger is keyed by (dataset, stream, batch). A batch Spark replays after a crash is skipped when
the ledger has it; when the crash fell between the silver commit and the ledger commit, the
guard skips the MERGEs and the ledger is completed from the commit's own metrics. ``app_id``
includes a stream id kept in the checkpoint folder, so after a lost checkpoint the fresh stream
(whose batch ids restart at 0) is not mistaken for a replay: it re-reads all of bronze, and the
MERGE, which only replaces a row with a newer fetch, changes nothing that was already there.

A **backfill** (``backfill=DayRange``) is the same job over the bronze objects fetched on those
days only, from a checkpoint of its own that is removed once it has drained them (a rerun
reprocesses them; a crashed backfill resumes). Its MERGE also lets a record replace the stored
row of the very same fetch, so reprocessing after a parser fix rewrites those rows, while an
older fetch still never replaces a newer one: the table ends exactly as the stream over the same
bronze leaves it.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession

from pipelines.bronze.writer import dataset_glob
from pipelines.core.errors import DataQualityError
from pipelines.core.settings import Settings
from pipelines.lake.days import DayRange
from pipelines.lake.delta import BatchTxn, DeltaLake
from pipelines.quality.gate import GateOutcome, QualityGate
from pipelines.quality.results import ExpectationResult
from pipelines.silver.contract import enforce_table_contract
from pipelines.silver.dedup import latest_per_key
from pipelines.silver.parsing import IS_RECORD, LINE_HEAD, RAW, REASON, bronze_lines, parse_lines
from pipelines.silver.quarantine import REFUSED_COLUMNS, QuarantineSink, row_json
from pipelines.silver.reconciliation import COUNTS, BatchCounts, Ledger, committed_merge_counts
from pipelines.silver.spec import NEWER, NOT_OLDER, DatasetSpec

STREAM_ID_FILE = "rwa-stream-id"
#: Reasons named in a DataQualityError.
TOP_REASONS = 5


@dataclass
class SilverRunReport:
    dataset: str
    batches: int = 0
    replayed_batches: int = 0
    bronze_lines: int = 0
    records_in: int = 0
    quarantined: int = 0
    duplicates_removed: int = 0
    inserted: int = 0
    updated: int = 0
    seconds: float = 0.0
    batch_ids: list[int] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    #: Row-level expectations that refused records in this run -> records refused.
    failed_expectations: dict[str, int] = field(default_factory=dict)
    #: Results of the table-level expectations checked after the run (key uniqueness,
    #: freshness); empty when the table does not exist.
    table_results: list[ExpectationResult] = field(default_factory=list)

    def add(self, batch_id: int, counts: BatchCounts) -> None:
        self.batches += 1
        self.batch_ids.append(batch_id)
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(counts, name))


@dataclass(frozen=True, slots=True)
class SilverTargets:
    """Where a silver job reads and writes."""

    bronze_root: Path
    silver_uri: str
    checkpoint_dir: Path
    quarantine: QuarantineSink
    ledger: Ledger


class SilverJob:
    """Runs the bronze -> silver stream of one dataset until bronze is drained."""

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        spec: DatasetSpec,
        targets: SilverTargets,
        *,
        gate: QualityGate,
        after_batch: Callable[[int], None] | None = None,
        backfill: DayRange | None = None,
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.lake = DeltaLake(settings)
        self.spec = spec
        self.targets = targets
        self.gate = gate
        # Test hook: runs after a batch's commits and before Spark records it as done.
        self.after_batch = after_batch
        self.backfill = backfill
        self.report = SilverRunReport(spec.name)
        self.stream_id = ""
        self.run_id = ""
        self._failure: Exception | None = None

    @property
    def app_id(self) -> str:
        return f"{self.spec.app_id}.{self.stream_id}"

    def run(self) -> SilverRunReport:
        started = time.perf_counter()
        self.report = SilverRunReport(self.spec.name)
        self.run_id = uuid.uuid4().hex
        self.report.columns_added = enforce_table_contract(
            self.lake, self.targets.silver_uri, self.spec.schema
        )
        self.stream_id = self._stream_id()
        query = (
            self._bronze_stream()
            .writeStream.foreachBatch(self._process_batch)
            .option("checkpointLocation", str(self.targets.checkpoint_dir))
            .trigger(availableNow=True)
            .start()
        )
        try:
            query.awaitTermination()
        except StreamingQueryException as error:
            # Raised inside foreachBatch, our own errors reach here wrapped by Spark.
            if self._failure is not None:
                raise self._failure from error
            raise
        if self.backfill is not None:
            # Drained: the next backfill of these days reprocesses them from the start.
            shutil.rmtree(self.targets.checkpoint_dir, ignore_errors=True)
        if self.lake.exists(self.targets.silver_uri):
            self.report.table_results = self.gate.check_table(
                self.spec.name, self.targets.silver_uri, run_id=self.run_id
            )
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _stream_id(self) -> str:
        """The id of this checkpoint's stream, created with it (see the module docstring)."""
        checkpoint = self.targets.checkpoint_dir
        checkpoint.mkdir(parents=True, exist_ok=True)
        marker = checkpoint / STREAM_ID_FILE
        if not marker.exists():
            tmp = checkpoint / f".{STREAM_ID_FILE}.{uuid.uuid4().hex}"
            tmp.write_text(uuid.uuid4().hex[:12])
            tmp.replace(marker)
        return marker.read_text().strip()

    def _bronze_stream(self) -> DataFrame:
        days = None if self.backfill is None else self.backfill.days()
        source = str(self.targets.bronze_root.resolve() / dataset_glob(self.spec.name, days))
        text = self.spark.readStream.option(
            "maxFilesPerTrigger", self.settings.silver_max_files_per_trigger
        ).text(source)
        return bronze_lines(text)

    def _process_batch(self, batch: DataFrame, batch_id: int) -> None:
        try:
            self._process(batch, batch_id)
        except Exception as error:
            self._failure = error
            raise
        if self.after_batch is not None:
            self.after_batch(batch_id)

    def _process(self, batch: DataFrame, batch_id: int) -> None:
        if self.targets.ledger.has(self.spec.name, self.stream_id, batch_id):
            self.report.replayed_batches += 1
            self.report.batches += 1
            self.report.batch_ids.append(batch_id)
            return
        rows = parse_lines(batch, self.spec).toArrow()
        records = rows.filter(rows[IS_RECORD])
        structural = records.filter(pc.is_valid(records[REASON]))
        candidates = records.filter(pc.is_null(records[REASON])).select(self.spec.schema.names)
        outcome = self.gate.check(
            self.spec.name,
            candidates.cast(self.spec.schema),
            batch_id=batch_id,
            run_id=self.run_id,
        )
        refused = _refused(structural, outcome)
        for result in outcome.results:
            if not result.success:
                failed = self.report.failed_expectations
                failed[result.rule] = failed.get(result.rule, 0) + (result.unexpected_count or 0)
        txn = BatchTxn(self.app_id, batch_id)
        self.targets.quarantine.add(self.spec.name, refused, txn)
        self._fail_if_too_many_refused(batch_id, records.num_rows, refused)
        inserted, updated = self._merge(outcome.valid, txn)
        counts = BatchCounts(
            bronze_lines=int(pc.sum(rows[LINE_HEAD]).as_py() or 0),
            records_in=records.num_rows,
            quarantined=refused.num_rows,
            # Valid records that added no row: in-batch duplicates and keys already in silver.
            duplicates_removed=outcome.valid.num_rows - inserted,
            inserted=inserted,
            updated=updated,
        )
        self.targets.ledger.record(self.spec.name, self.stream_id, batch_id, counts)
        self.report.add(batch_id, counts)

    def _merge(self, valid: pa.Table, txn: BatchTxn) -> tuple[int, int]:
        """MERGE the latest fetch of each key; (inserted, updated) silver rows."""
        distinct = latest_per_key(valid, self.spec.keys)
        outcome = self.lake.merge(
            distinct,
            self.targets.silver_uri,
            keys=self.spec.keys,
            update_when=NEWER if self.backfill is None else NOT_OLDER,
            partition_by=self.spec.partition_by,
            txn=txn,
        )
        if outcome.skipped_replay:
            # Committed before a crash that kept the ledger row from being written.
            return committed_merge_counts(
                self.settings, self.lake, self.targets.silver_uri, txn.app_id, txn.version
            )
        return outcome.inserted, outcome.updated

    def _fail_if_too_many_refused(self, batch_id: int, records_in: int, refused: pa.Table) -> None:
        limit = self.settings.quality_max_failure_share
        share = refused.num_rows / records_in if records_in else 0.0
        if share <= limit:
            return
        top = Counter(refused[REASON].to_pylist()).most_common(TOP_REASONS)
        reasons = "; ".join(f"{reason} ({count})" for reason, count in top)
        raise DataQualityError(
            f"silver/{self.spec.name} batch {batch_id}: {refused.num_rows} of {records_in} "
            f"records refused ({share:.1%}), above RWA_QUALITY_MAX_FAILURE_SHARE "
            f"({limit:.1%}); top reasons: {reasons}. Nothing of the batch was merged (its "
            f"refusals are in silver/quarantine); fix the source or raise the threshold and "
            f"rerun to process it again"
        )


def _refused(structural: pa.Table, outcome: GateOutcome) -> pa.Table:
    """Structural and quality refusals in one table of REFUSED_COLUMNS + raw."""
    columns = [*REFUSED_COLUMNS, RAW]
    parsed = structural.select(columns)
    rejected = outcome.rejected
    raw = pa.array(
        [row_json(row) for row in rejected.drop_columns([REASON]).to_pylist()], pa.string()
    )
    gated = rejected.select(list(REFUSED_COLUMNS)).append_column(RAW, raw)
    return pa.concat_tables([parsed.cast(gated.schema), gated])
