"""The Spark engine of the silver stream (:mod:`pipelines.silver.stream`): Spark Structured
Streaming over the dataset's bronze folders (``availableNow``: drain what is there, then stop;
``maxFilesPerTrigger`` objects per micro-batch; Spark's checkpoint records each batch), each
batch parsed by Spark (:mod:`pipelines.silver.parsing`), staged and gated by Spark jobs on the
executors (:mod:`pipelines.silver.spark_staging`, :mod:`pipelines.quality.spark_gate`). For a
cluster, and for a lake written by delta-spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession

from pipelines.contracts.envelope import dataset_glob
from pipelines.lake.days import DayRange
from pipelines.quality.spark_gate import PendingResults, SparkQualityGate
from pipelines.silver.bronze_stream import refuse_local_checkpoint
from pipelines.silver.parsing import bronze_lines, parse_lines
from pipelines.silver.spark_staging import SparkStagedBatch
from pipelines.silver.staging import StageCounts
from pipelines.silver.stream import SilverStream


class SparkSilverStream(SilverStream[SparkStagedBatch, DataFrame, SparkQualityGate]):
    """The silver stream of one dataset, run by Spark."""

    def __init__(self, spark: SparkSession, *args: Any, **kwargs: Any) -> None:
        """``spark``, then the arguments of :class:`SilverStream` (``row_gate``: a
        :class:`SparkQualityGate`)."""
        super().__init__(*args, **kwargs)
        self.spark = spark
        self._failure: Exception | None = None

    def _drain(self) -> None:
        checkpoint = self.targets.checkpoint_dir
        refuse_local_checkpoint(checkpoint)
        query = (
            self._bronze_stream()
            .writeStream.foreachBatch(self._spark_batch)
            .option("checkpointLocation", str(checkpoint))
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

    def _bronze_stream(self) -> DataFrame:
        days = None if self.backfill is None else self.backfill.days()
        source = str(self.targets.bronze_root.resolve() / dataset_glob(self.spec.name, days))
        text = self.spark.readStream.option(
            "maxFilesPerTrigger", self.settings.spark.silver_max_files_per_trigger
        ).text(source)
        return bronze_lines(text)

    def _spark_batch(self, batch: DataFrame, batch_id: int) -> None:
        try:
            self._process(batch, batch_id)
        except Exception as error:
            self._failure = error
            raise
        if self.after_batch is not None:
            self.after_batch(batch_id)

    def _replay_lines(self, path: Path) -> DataFrame:
        return bronze_lines(self.spark.read.text(str(path)))

    def _new_stage(self, root: Path) -> SparkStagedBatch:
        return SparkStagedBatch(self.spark, self.spec, root)

    def _stage_records(self, stage: SparkStagedBatch, lines: DataFrame) -> StageCounts:
        return stage.stage_records(parse_lines(lines, self.spec))

    def _check(self, stage: SparkStagedBatch, nav_days: DayRange | None) -> PendingResults:
        history = None
        if nav_days is not None:
            history = self.row_gate.nav_history_of_days(self.spark, nav_days.first, nav_days.last)
        return stage.check(self.row_gate, history)
