"""The in-process DuckDB engine of the silver stream (:mod:`pipelines.silver.stream`): the
bronze objects batched by :mod:`pipelines.silver.bronze_stream` (what Spark's file source and
checkpoint do, without Spark), each batch parsed by DuckDB (:mod:`pipelines.silver.duck_parsing`),
gated (:mod:`pipelines.quality.duck_gate`) and staged (:mod:`pipelines.silver.duck_staging`) on
one DuckDB connection of the run: no JVM, no Spark job per batch. For one machine (a local
Spark master) and a lake written by delta-rs."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from pipelines.lake.days import DayRange
from pipelines.lake.spark import local_threads
from pipelines.quality.duck_gate import DuckQualityGate
from pipelines.silver.bronze_stream import LocalBronzeStream, batch_lines, checkpoint_lock
from pipelines.silver.duck_parsing import LineParse
from pipelines.silver.duck_staging import DuckResults, DuckStagedBatch, duck_connection
from pipelines.silver.staging import StageCounts
from pipelines.silver.stream import SilverRunReport, SilverStream

#: Beside the checkpoints: where DuckDB spills beyond its memory limit (a folder per run).
SPILL_FOLDER = "_duckdb_spill"


class DuckSilverStream(SilverStream[DuckStagedBatch, pa.RecordBatchReader, DuckQualityGate]):
    """The silver stream of one dataset, run by DuckDB in this process."""

    #: The parse of the dataset's lines on the run's connection (:meth:`_connected`).
    _parse: LineParse | None = None

    def run(self) -> SilverRunReport:
        with self._connected():
            return super().run()

    def replay(self, bronze_file: str) -> SilverRunReport:
        with self._connected():
            return super().replay(bronze_file)

    @contextlib.contextmanager
    def _connected(self) -> Iterator[None]:
        """The run's DuckDB connection, closed whatever happens."""
        # Beside the checkpoint, not in it: a run that stops before its stream starts (a table
        # that conflicts with the contract) leaves no checkpoint behind.
        checkpoint = self.targets.checkpoint_dir
        spill = checkpoint.parent / SPILL_FOLDER / f"{checkpoint.name}-{uuid.uuid4().hex[:12]}"
        spill.parent.mkdir(parents=True, exist_ok=True)
        spark = self.settings.spark
        with checkpoint_lock(checkpoint):
            con = duck_connection(
                spark.silver_duckdb_memory_limit, spill, local_threads(spark.master)
            )
            try:
                self._parse = LineParse(con, self.spec)
                yield
            finally:
                self._parse = None
                con.close()
                shutil.rmtree(spill, ignore_errors=True)

    @property
    def parse(self) -> LineParse:
        if self._parse is None:
            raise RuntimeError("the DuckDB connection is opened by run() or replay()")
        return self._parse

    def _drain(self) -> None:
        source = LocalBronzeStream(
            self.targets.bronze_root,
            self.spec.name,
            self.targets.checkpoint_dir,
            max_files=self.settings.spark.silver_max_files_per_trigger,
            max_bytes=self.settings.spark.silver_max_bytes_per_trigger,
            days=None if self.backfill is None else self.backfill.days(),
        )
        for batch in source.batches():
            self._process_batch(
                batch_lines(self.targets.bronze_root, batch.objects), batch.batch_id
            )
            source.commit(batch.batch_id)

    def _replay_lines(self, path: Path) -> pa.RecordBatchReader:
        root = self.targets.bronze_root.resolve()
        return batch_lines(root, [path.resolve().relative_to(root).as_posix()])

    def _new_stage(self, root: Path) -> DuckStagedBatch:
        return DuckStagedBatch(self.parse, root)

    def _stage_records(self, stage: DuckStagedBatch, lines: pa.RecordBatchReader) -> StageCounts:
        return stage.stage_records(lines)

    def _check(self, stage: DuckStagedBatch, nav_days: DayRange | None) -> DuckResults:
        history = None
        if nav_days is not None:
            history = self.row_gate.nav_history_of_days(nav_days.first, nav_days.last)
        return stage.check(self.row_gate, history)
