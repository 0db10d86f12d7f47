"""The one silver streaming step: bronze objects of a dataset -> its keyed silver Delta table.

A stream of micro-batches over the dataset's bronze objects (``availableNow``: drain what is
there, then stop; ``RWA_SILVER_MAX_FILES_PER_TRIGGER`` objects per micro-batch), run by one of
two engines (``RWA_SILVER_ENGINE``, :func:`resolve_engine`): Spark Structured Streaming
(:mod:`pipelines.silver.spark_stream`, for a cluster and for delta-spark) or DuckDB in this
process (:mod:`pipelines.silver.duck_stream`, with the local bronze stream of
:mod:`pipelines.silver.bronze_stream`). This module is what they share. Per micro-batch:

1. the engine parses the lines into typed candidate rows (Spark:
   :mod:`pipelines.silver.parsing`; DuckDB: :mod:`pipelines.silver.duck_parsing`) and stages
   them as Parquet (:mod:`pipelines.silver.staging`, the same layout for both: the batch is
   never collected; counts, refusals, records per object and a stream of the rows to MERGE
   come back);
2. the structurally valid rows go through the quality gate as the engine's expressions
   (:mod:`pipelines.quality.spark_gate`, :mod:`pipelines.quality.duck_gate`; Great
   Expectations runs the whole-table checks after the run);
3. the refused share is judged per bronze object (:mod:`pipelines.quality.objects`): a broken
   object (or one an operator set aside) is quarantined whole and listed in
   ``silver/quarantined_objects``, the other objects proceed; when the broken objects look
   systematic the batch fails with a :class:`DataQualityError` and nothing of it is merged
   (the checkpoint does not record it as done, so a rerun processes it again);
4. structural and quality refusals, and the records of objects quarantined whole, are stored in
   ``silver/quarantine`` with their reasons;
5. the valid rows are deduplicated by a window (latest fetch wins, :mod:`pipelines.silver.dedup`)
   and MERGEd with delta-rs (delta-spark for a native lake) into the
   table, streamed from the staged rows and limited to the batch's days; with delta-rs, the
   days the table holds no row of yet are appended instead, in one commit
   (:meth:`SilverStream._append_new_days`);
6. the batch's counts are added to ``silver/reconciliation``.

Exactly once: the commits carry the Delta application transaction ``(app_id, batch_id)``, the
ledger is keyed by (dataset, stream, batch). A batch the stream replays after a crash (recorded
in the checkpoint, not committed there: the same objects under the same id) is skipped when
the ledger has it; when the crash fell between the silver commit and the ledger commit, the
guard skips the MERGEs and the ledger is completed from the commit's own metrics. A batch that
spans many days is merged a window of days at a time, each window a commit with a transaction
of its own (``app_id@first..last``), so a batch replayed after a crash between two windows
merges only those not committed. ``app_id``
includes a stream id kept in the checkpoint folder, so after a lost checkpoint the fresh stream
(whose batch ids restart at 0) is not mistaken for a replay: it re-reads all of bronze, and the
MERGE, which only replaces a row with a newer fetch, changes nothing that was already there.

A **backfill** (``backfill=DayRange``) is the same job over the bronze objects fetched on those
days only, from a checkpoint of its own that is removed once it has drained them (a rerun
reprocesses them; a crashed backfill resumes). Its MERGE also lets a record replace the stored
row of the very same fetch, so reprocessing after a parser fix rewrites those rows, while an
older fetch still never replaces a newer one: the table ends exactly as the stream over the same
bronze leaves it.

A **replay** (:meth:`SilverStream.replay`, ``rwa quarantine replay``) runs one quarantined object
through the same steps as a batch of its own, under a stream id derived from the object's name
(so the ledger row and the Delta transaction of a replay are the same however often it is
retried), merging like a backfill. It refuses, merging nothing, while the object is still broken.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import pyarrow as pa

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.silver import RECONCILIATION_COUNTS
from pipelines.core.errors import DataQualityError, NotFoundError
from pipelines.core.settings import LakeSettings, QualitySettings, SparkSettings
from pipelines.lake.days import DayRange
from pipelines.lake.delta import BatchTxn, DeltaLake, NewDays
from pipelines.quality.gate import QualityGate
from pipelines.quality.objects import ObjectVerdict, judge_object_counts, systematic_failure
from pipelines.quality.results import ExpectationResult
from pipelines.quality.suites import suite_for
from pipelines.silver.contract import enforce_table_contract
from pipelines.silver.parsing import RAW, REASON
from pipelines.silver.quarantine import (
    QUARANTINED,
    REFUSED_COLUMNS,
    SET_ASIDE,
    QuarantinedObjects,
    QuarantineSink,
    row_json,
)
from pipelines.silver.reconciliation import (
    REPLAY_STREAM_PREFIX,
    BatchCounts,
    Ledger,
    committed_merge_counts,
)
from pipelines.silver.spec import NEWER, NOT_OLDER, DatasetSpec
from pipelines.silver.staging import CheckedResults, StageCounts, StagedBatch

STREAM_ID_FILE = "rwa-stream-id"
#: The derived column that compares a batch with silver history (the onchain NAV check).
NAV_CHANGE = "nav_change"
#: Under the checkpoint folder: each micro-batch's staged rows, removed once it is done.
STAGING_FOLDER = "_staging"
#: Broken objects named in a DataQualityError.
NAMED_OBJECTS = 5
#: The one batch of a replay (its stream id names the object).
REPLAY_BATCH = 0
BATCH_ADVICE = (
    "Nothing of the batch was merged (its refusals are in silver/quarantine, the objects in "
    "`rwa quarantine list`); fix the cause and rerun, or set the objects aside (`rwa quarantine "
    "set-aside OBJECT`) and rerun to let the rest through (docs/quality.md)"
)
REPLAY_ADVICE = (
    "Nothing of it was merged; it stays in quarantine: replay it once its content is valid "
    "(a parser fix, the object restored, or a deliberately raised threshold; docs/quality.md)"
)
LOG = logging.getLogger(__name__)
#: An engine's staging folder, and what it hands a micro-batch as (its bronze lines).
Stage = TypeVar("Stage", bound=StagedBatch)
Lines = TypeVar("Lines")
#: The engine's twin of the quality gate: the row-level checks of every micro-batch.
RowGate = TypeVar("RowGate")


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
    #: Bronze objects quarantined whole in this run -> why (broken, or set aside).
    quarantined_objects: dict[str, str] = field(default_factory=dict)

    def add(self, batch_id: int, counts: BatchCounts) -> None:
        self.batches += 1
        self.batch_ids.append(batch_id)
        for name in RECONCILIATION_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(counts, name))


@dataclass(frozen=True, slots=True)
class SilverStreamSettings:
    """The settings sections a silver step reads: where the lake is (to read the Delta log of a
    crashed batch), how many objects a micro-batch takes, the quality thresholds."""

    lake: LakeSettings
    spark: SparkSettings
    quality: QualitySettings


@dataclass(frozen=True, slots=True)
class SilverTargets:
    """Where a silver step reads and writes."""

    bronze_root: Path
    silver_uri: str
    checkpoint_dir: Path
    quarantine: QuarantineSink
    ledger: Ledger
    objects: QuarantinedObjects


class SilverStream(ABC, Generic[Stage, Lines, RowGate]):
    """Runs the bronze -> silver stream of one dataset until bronze is drained: the steps of
    the module docstring, whatever the engine. An engine
    (:class:`pipelines.silver.spark_stream.SparkSilverStream`,
    :class:`pipelines.silver.duck_stream.DuckSilverStream`) brings the stream of micro-batches,
    the staging jobs and the history the quality gate compares with."""

    def __init__(
        self,
        lake: DeltaLake,
        spec: DatasetSpec,
        targets: SilverTargets,
        *,
        gate: QualityGate,
        row_gate: RowGate,
        settings: SilverStreamSettings,
        after_batch: Callable[[int], None] | None = None,
        backfill: DayRange | None = None,
    ) -> None:
        self.settings = settings
        self.lake = lake
        self.spec = spec
        self.targets = targets
        #: Great Expectations: the whole-table checks after a run.
        self.gate = gate
        #: The row-level checks of every micro-batch, as the engine's expressions.
        self.row_gate = row_gate
        # Test hook: runs after a batch's commits and before the stream records it as done.
        self.after_batch = after_batch
        self.backfill = backfill
        self.report = SilverRunReport(spec.name)
        self.stream_id = ""
        self.run_id = ""
        #: The bronze object a replay takes in (None: the stream or a backfill).
        self.replay_of: str | None = None

    # --- what an engine brings -------------------------------------------------------------
    @abstractmethod
    def _drain(self) -> None:
        """Run every micro-batch of the stream (:meth:`_process_batch` each), then stop."""

    @abstractmethod
    def _replay_lines(self, path: Path) -> Lines:
        """The lines of one bronze object (a replay's batch)."""

    @abstractmethod
    def _new_stage(self, root: Path) -> Stage:
        """The staging folder of a micro-batch."""

    @abstractmethod
    def _stage_records(self, stage: Stage, lines: Lines) -> StageCounts:
        """Job 1: parse the batch's lines and stage its records."""

    @abstractmethod
    def _check(self, stage: Stage, nav_days: DayRange | None) -> CheckedResults:
        """Job 2: the quality gate over the staged records (``nav_days``: the days of silver
        history the gate compares the batch with, or None)."""

    @property
    def app_id(self) -> str:
        return f"{self.spec.app_id}.{self.stream_id}"

    def run(self) -> SilverRunReport:
        started = self._start()
        self.stream_id = self._stream_id()
        with self.lake.tables_kept_open():
            self._drain()
        if self.backfill is not None:
            # Drained: the next backfill of these days reprocesses them from the start. The
            # stream id goes first: a crash half-way through the removal must not leave the old
            # id beside no offsets (its batch ids would restart under it, and the ledger would
            # skip them as done).
            (self.targets.checkpoint_dir / STREAM_ID_FILE).unlink(missing_ok=True)
            shutil.rmtree(self.targets.checkpoint_dir, ignore_errors=True)
        return self._finish(started)

    def replay(self, bronze_file: str) -> SilverRunReport:
        """Take in one quarantined bronze object (lake-relative key) as a batch of its own;
        raises DataQualityError, merging nothing, when it is still broken."""
        path = self.targets.bronze_root.resolve() / bronze_file
        if not path.is_file():
            raise NotFoundError(f"no bronze object {bronze_file} under {self.targets.bronze_root}")
        started = self._start()
        self.replay_of = bronze_file
        self.stream_id = replay_stream_id(bronze_file)
        with self.lake.tables_kept_open():
            self._process(self._replay_lines(path), REPLAY_BATCH)
        return self._finish(started)

    def _start(self) -> float:
        self.report = SilverRunReport(self.spec.name)
        self.run_id = uuid.uuid4().hex
        self.report.columns_added = enforce_table_contract(
            self.lake, self.targets.silver_uri, self.spec.schema
        )
        return time.perf_counter()

    def _finish(self, started: float) -> SilverRunReport:
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

    def _process_batch(self, lines: Lines, batch_id: int) -> None:
        self._process(lines, batch_id)
        if self.after_batch is not None:
            self.after_batch(batch_id)

    def _process(self, lines: Lines, batch_id: int) -> None:
        if self.targets.ledger.has(self.spec.name, self.stream_id, batch_id):
            self.report.replayed_batches += 1
            self.report.batches += 1
            self.report.batch_ids.append(batch_id)
            self._record_replayed()  # a replay that crashed before saying so
            return
        # Whatever a crashed attempt of this batch staged is removed first: the readers take
        # every file of a staged folder, so a leftover would count its records twice.
        shutil.rmtree(self._staging_dir(batch_id), ignore_errors=True)
        stage = self._new_stage(self._staging_dir(batch_id))
        try:
            counts = self._stage_records(stage, lines)
            checked = self._check(stage, self._nav_days(counts))
            self._process_staged(stage, counts, checked, batch_id)
        finally:
            stage.remove()

    def _process_staged(
        self, stage: Stage, counts: StageCounts, checked: CheckedResults, batch_id: int
    ) -> None:
        """One micro-batch, its rows staged and checked (:mod:`pipelines.silver.staging`)."""
        self._count_failures(checked.results(batch_id=batch_id, run_id=self.run_id))
        gated = _rows_as_refused(stage.gate_refusals())
        structural = stage.structural_refusals([*REFUSED_COLUMNS, RAW])
        refused = pa.concat_tables([structural.cast(gated.schema), gated])
        # Read once per batch: the held objects and the replayed ones are both judged on it.
        statuses = {} if self.replay_of else self.targets.objects.statuses(self.spec.name)
        per_object = stage.records_per_object()
        held = self._objects_held(batch_id, per_object, refused, statuses)
        if held:
            stage.rerank_without(held)
            refused = pa.concat_tables([refused, _held_as_refused(stage.valid_rows_of(held), held)])
        txn = BatchTxn(self.app_id, batch_id)
        self.targets.quarantine.add(self.spec.name, refused, txn)
        inserted, updated = self._merge(stage, counts, reranked=bool(held), txn=txn)
        valid = counts.records_in - refused.num_rows
        batch_counts = BatchCounts(
            bronze_lines=counts.bronze_lines,
            records_in=counts.records_in,
            quarantined=refused.num_rows,
            # Valid records that added no row: in-batch duplicates and keys already in silver.
            duplicates_removed=valid - inserted,
            inserted=inserted,
            updated=updated,
        )
        self.targets.ledger.record(self.spec.name, self.stream_id, batch_id, batch_counts)
        self.report.add(batch_id, batch_counts)
        # Listed objects this batch found valid (a replay, a backfill after a fix) are resolved.
        waiting = {name for name, status in statuses.items() if status in (QUARANTINED, SET_ASIDE)}
        self._record_replayed(waiting.intersection(_objects_with_valid_rows(per_object, refused)))

    def _staging_dir(self, batch_id: int) -> Path:
        return self.targets.checkpoint_dir / STAGING_FOLDER / f"{self.stream_id}-{batch_id}"

    def _nav_days(self, counts: StageCounts) -> DayRange | None:
        """The days of the silver history the gate compares the batch with (None: its suite
        needs none, or the batch has no valid record). The batch's days come from the staging
        job's counts, so no other pass over the batch is needed."""
        if NAV_CHANGE not in suite_for(self.spec.name).derived:
            return None
        if counts.first_day is None or counts.last_day is None:
            return None
        return DayRange(counts.first_day, counts.last_day)

    def _count_failures(self, results: list[ExpectationResult]) -> None:
        failed = self.report.failed_expectations
        for result in results:
            if not result.success:
                failed[result.rule] = failed.get(result.rule, 0) + (result.unexpected_count or 0)

    def _objects_held(
        self,
        batch_id: int,
        per_object: dict[str, int],
        refused: pa.Table,
        statuses: dict[str, str],
    ) -> dict[str, str]:
        """The objects of the batch to quarantine whole -> the reason given to their valid
        records; raises DataQualityError, after listing them, when the broken objects are
        systematic, or when a replayed object is still broken (see
        :mod:`pipelines.quality.objects`)."""
        dataset, limit = self.spec.name, self.settings.quality.max_failure_share
        verdicts = judge_object_counts(
            per_object,
            zip(_texts(refused["bronze_file"]), _texts(refused[REASON]), strict=True),
        )
        set_aside = {v.bronze_file for v in verdicts if statuses.get(v.bronze_file) == SET_ASIDE}
        judged = [v for v in verdicts if v.bronze_file not in set_aside]
        broken = [v for v in judged if v.is_broken(limit)]
        if self.replay_of is not None:
            if broken:
                still = f"replay of {self.replay_of}: the object is still broken"
                self._fail(refused, still, broken, REPLAY_ADVICE)
            return {}
        waiting = {name for name, status in statuses.items() if status == QUARANTINED}
        why = systematic_failure(
            broken,
            len(judged),
            awaiting_before=len(waiting - {v.bronze_file for v in broken}),
            max_awaiting=self.settings.quality.max_broken_objects,
        )
        self.targets.objects.register(dataset, broken, limit)
        if why is not None:
            self._fail(refused, f"silver/{dataset} batch {batch_id}: {why}", broken, BATCH_ADVICE)
        held = {
            v.bronze_file: reasons.QUARANTINED_WHOLE.text(broken=v.describe(limit)) for v in broken
        }
        held |= dict.fromkeys(set_aside, reasons.OBJECT_SET_ASIDE.text())
        for name, reason in held.items():
            LOG.warning("silver/%s: %s %s", dataset, name, reason)
        self.report.quarantined_objects |= held
        return held

    def _fail(self, refused: pa.Table, why: str, broken: list[ObjectVerdict], advice: str) -> None:
        """Store the refusals (unguarded: see QuarantineSink.add) and fail the batch."""
        self.targets.quarantine.add(self.spec.name, refused, None)
        limit = self.settings.quality.max_failure_share
        named = "; ".join(f"{v.bronze_file}: {v.describe(limit)}" for v in broken[:NAMED_OBJECTS])
        more = f" (and {len(broken) - NAMED_OBJECTS} more)" if len(broken) > NAMED_OBJECTS else ""
        raise DataQualityError(f"{why}. Broken objects: {named}{more}. {advice}")

    def _record_replayed(self, valid_objects: set[str] | None = None) -> None:
        """Mark listed objects whose records are now in silver as replayed: the object of a
        replay, or ``valid_objects`` (listed objects a batch found valid)."""
        done = {self.replay_of} if self.replay_of is not None else valid_objects or set()
        if done:
            self.targets.objects.mark_replayed(self.spec.name, done)

    def _merge(
        self, stage: StagedBatch, counts: StageCounts, *, reranked: bool, txn: BatchTxn
    ) -> tuple[int, int]:
        """Write the latest fetch of each key, streamed from the staged rows, a window of days
        at a time (:meth:`_merge_windows`): the windows whose days hold no silver row yet are
        appended together in one commit (:meth:`_append_new_days`), the others MERGEd one
        commit each; (inserted, updated) silver rows."""
        windows = self._merge_windows(counts)
        if len(windows) == 1:
            parts = [(windows[0], txn)]
        else:
            # Each window carries an application transaction of its own: a replay skips the
            # windows already committed and merges the others. The window is in the id, so a
            # replay under another window size merges everything again (the MERGE changes
            # nothing already there) rather than skip rows it never merged.
            parts = [
                (days, BatchTxn(f"{txn.app_id}@{days}", txn.version))
                for days in windows
                if stage.merge_rows(reranked, days)
            ]
        appended = self._append_new_days(stage, parts, reranked=reranked)
        inserted, updated = sum(appended.values()), 0
        for days, part in parts:
            if part.app_id in appended:
                continue
            window_inserted, window_updated = self._merge_days(
                stage, days, reranked=reranked, txn=part
            )
            inserted, updated = inserted + window_inserted, updated + window_updated
        return inserted, updated

    def _append_new_days(
        self,
        stage: StagedBatch,
        parts: list[tuple[DayRange | None, BatchTxn]],
        *,
        reranked: bool,
    ) -> dict[str, int]:
        """Append the windows whose days silver holds no row of yet, in one commit (their rows
        are one per key and the day is in the key, so none can be in silver: a MERGE would only
        insert them, at the cost of a join; :meth:`DeltaLake.append_new_days`); their app ids
        -> rows appended. Not for delta-spark, nor where the day is not in the key (no window
        of days: a key's stored row may be on another day)."""
        windows = [
            NewDays(
                part, days.first, days.last, functools.partial(stage.merge_source, reranked, days)
            )
            for days, part in parts
            if days is not None
        ]
        if self.lake.native or not windows:
            return {}
        return self.lake.append_new_days(
            windows,
            self.targets.silver_uri,
            day_column=self.spec.day_column,
            partition_by=self.spec.partition_by,
            schema=self.spec.schema,
        )

    def _merge_days(
        self, stage: StagedBatch, days: DayRange | None, *, reranked: bool, txn: BatchTxn
    ) -> tuple[int, int]:
        """One MERGE of the batch's rows of ``days`` (None: all); (inserted, updated)."""
        if self.lake.native:
            source: Any = stage.merge_frame(reranked)
        else:
            source = stage.merge_source(reranked, days)
        outcome = self.lake.merge(
            source,
            self.targets.silver_uri,
            keys=self.spec.keys,
            update_when=NOT_OLDER if self._reprocessing else NEWER,
            partition_by=self.spec.partition_by,
            txn=txn,
            target_filter=None if days is None else days.predicate(f"t.{self.spec.day_column}"),
        )
        if outcome.skipped_replay:
            # Committed before a crash that kept the ledger row from being written.
            return committed_merge_counts(
                self.settings.lake, self.lake, self.targets.silver_uri, txn.app_id, txn.version
            )
        return outcome.inserted, outcome.updated

    def _merge_windows(self, counts: StageCounts) -> list[DayRange | None]:
        """The batch's days cut into windows of ``RWA_DELTA_PARTITIONS_PER_WRITE`` calendar days
        from its first, one MERGE each (or one group of files of the append of new days):
        delta-rs holds the MERGE's source and a writer per day partition in the driver (the 16x
        bench's batches of 256 days of 15-minute bars took the silver step to 1.2 GB). One
        window otherwise: ``None`` (no day filter) when the day is not in the key (a key's
        stored row may then be on another day), the batch's days when they are fewer, the day
        is not a date, or the engine is delta-spark (its MERGE runs on the executors)."""
        day, first, last = self.spec.day_column, counts.first_day, counts.last_day
        if first is None or last is None or day not in self.spec.keys:
            return [None]
        whole = DayRange(first, last)
        size = self.settings.lake.delta_partitions_per_write
        # Windows bound the open partition writers only where a day is a partition (a table
        # partitioned by year, as economic is, would pay a MERGE per window for nothing).
        if self.lake.native or (last - first).days < size or day not in self.spec.partition_by:
            return [whole]
        if not pa.types.is_date32(self.spec.schema.field(day).type):
            return [whole]
        starts = range(0, (last - first).days + 1, size)
        return [
            DayRange(
                first + dt.timedelta(days=n), min(last, first + dt.timedelta(days=n + size - 1))
            )
            for n in starts
        ]

    @property
    def _reprocessing(self) -> bool:
        """A backfill or a replay: a record may replace the row of its own fetch."""
        return self.backfill is not None or self.replay_of is not None


def resolve_engine(spark: SparkSettings, *, native_delta: bool) -> Literal["duckdb", "spark"]:
    """The engine ``RWA_SILVER_ENGINE`` names; ``auto``: DuckDB on a local Spark master with a
    delta-rs lake (no JVM for silver), Spark on a cluster or with delta-spark (whose MERGE
    wants its rows as a Spark DataFrame)."""
    if spark.silver_engine != "auto":
        return spark.silver_engine
    return "duckdb" if spark.master.startswith("local") and not native_delta else "spark"


def replay_stream_id(bronze_file: str) -> str:
    """The stream id of the replay of ``bronze_file`` (stable across retries)."""
    return REPLAY_STREAM_PREFIX + hashlib.sha256(bronze_file.encode()).hexdigest()[:12]


def _held_as_refused(valid: pa.Table, held: dict[str, str]) -> pa.Table:
    """Valid rows of objects quarantined whole, with their object's reason, as refusals."""
    reasons = pa.array([held[name] for name in _texts(valid["bronze_file"])], pa.string())
    return _rows_as_refused(valid.append_column(REASON, reasons))


def _rows_as_refused(rows: pa.Table) -> pa.Table:
    """Typed silver rows with a ``reason`` as REFUSED_COLUMNS + raw (the row as JSON)."""
    raw = pa.array([row_json(row) for row in rows.drop_columns([REASON]).to_pylist()], pa.string())
    return rows.select(list(REFUSED_COLUMNS)).append_column(RAW, raw)


def _objects_with_valid_rows(per_object: dict[str, int], refused: pa.Table) -> set[str]:
    """Objects of the batch with at least one record that was not refused."""
    refusals = Counter(_texts(refused["bronze_file"]))
    return {name for name, records in per_object.items() if records > refusals.get(name, 0)}


def _texts(column: pa.ChunkedArray[Any]) -> list[str]:
    """A string column that has no nulls (lineage, reasons) as Python strings."""
    return [str(value) for value in column.to_pylist()]
