"""The quality gate of the silver step as Spark work on the executors.

The same suites as :class:`~pipelines.quality.gate.QualityGate` (GX on pandas, the reference),
compiled to Spark expressions (:mod:`pipelines.quality.spark_rules`, derived columns in
:mod:`pipelines.quality.spark_derived`): a micro-batch stays a DataFrame, and only the
per-check aggregates reach the driver::

    gate = SparkQualityGate.from_settings(settings.quality, lake, paths)  # once per run
    history = gate.nav_history(rows) if dataset == "onchain" else None  # small, delta-rs
    annotated = gate.annotate(dataset, rows, nav_history=history)  # lazy
    annotated = annotated.persist()  # read by the results job and by the split below
    results = gate.results(dataset, annotated, batch_id=batch_id, run_id=run_id)  # one job
    valid = annotated.where(F.col("reason").isNull()).drop("reason", *gate.quality_columns(dataset))
    rejected = annotated.where(F.col("reason").isNotNull()).drop(*gate.quality_columns(dataset))

or, with no job of its own, counted by the job that writes the annotated rows anyway (a Spark
``Observation``; the silver staging does this)::

    counted, pending = gate.observed(dataset, annotated)
    counted.write.parquet(folder)  # the job that also counts
    results = pending.results(batch_id=batch_id, run_id=run_id)

``annotate`` adds ``reason`` (null when the row passes every error check, else the failed error
checks' reasons joined by :data:`~pipelines.contracts.quarantine.QUALITY_SEPARATOR` in check
order, as the GX gate writes them) and the columns :meth:`SparkQualityGate.quality_columns`
lists: ``quality_check_NN`` per check NN (its index in the suite; True = unexpected, False =
passed, null = not counted by GX), ``quality_scope_NN`` for a check with a row filter (True
where it applies), and ``quality_<derived>`` (the suite's derived columns, for the samples).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, Row, SparkSession
from pyspark.sql import functions as F

from pipelines.contracts.quarantine import QUALITY_SEPARATOR
from pipelines.quality.compiled import (
    REASON_COLUMN,
    SAMPLE_SIZE,
    TOTAL,
    CompiledQualityGate,
    aggregate_names,
    check_column,
    derived_column,
    scope_column,
)
from pipelines.quality.results import ExpectationResult
from pipelines.quality.spark_derived import read_nav_history, with_derived_columns
from pipelines.quality.spark_rules import CompiledCheck, compile_check
from pipelines.quality.suites import DatasetSuite, suite_for

_POSITION = "_quality_position"


class SparkQualityGate(CompiledQualityGate):
    """Runs the row-level suites of :mod:`pipelines.quality.suites` as Spark expressions and
    stores the results; no Great Expectations at run time."""

    def nav_history(self, rows: DataFrame) -> DataFrame | None:
        """The silver NAV window the onchain NAV check needs for ``rows`` (one small job for the
        batch's first and last day; then a delta-rs read); None without rows or table."""
        day = F.date_from_unix_date(F.floor(F.unix_micros("ts") / 86_400_000_000).cast("int"))
        span = rows.agg(F.min(day).alias("first"), F.max(day).alias("last")).first()
        if span is None or span["first"] is None:
            return None
        return self.nav_history_of_days(rows.sparkSession, span["first"], span["last"])

    def nav_history_of_days(
        self, spark: SparkSession, first_day: dt.date, last_day: dt.date
    ) -> DataFrame | None:
        """:meth:`nav_history` for a batch whose ``ts`` span ``first_day``..``last_day`` (UTC),
        when the caller already knows them; None while silver/onchain does not exist."""
        return read_nav_history(spark, self._lake, self._onchain_uri, first_day, last_day)

    def annotate(
        self, dataset: str, rows: DataFrame, *, nav_history: DataFrame | None = None
    ) -> DataFrame:
        """``rows`` plus ``reason`` and the quality columns (lazy: nothing runs here).
        ConfigurationError for an unknown dataset, DataContractError when ``rows`` lack a
        column a check reads."""
        suite = self._suite_of_rows(dataset, rows.columns)
        framed = with_derived_columns(
            suite, rows, asset_classes=self._classes, nav_history=nav_history
        )
        compiled = [compile_check(check, framed.schema) for check in suite.checks]
        flagged = framed.withColumns(_verdict_columns(compiled))
        reasons = _reason(compiled)
        renamed = {name: derived_column(name) for name in suite.derived}
        return flagged.withColumn(REASON_COLUMN, reasons).withColumnsRenamed(renamed)

    def results(
        self, dataset: str, annotated: DataFrame, *, batch_id: int, run_id: str
    ) -> list[ExpectationResult]:
        """Each check's result over ``annotated`` (from :meth:`annotate`) in ONE aggregation
        job, stored in silver/quality_results; none for an empty batch (as the GX gate)."""
        counting = _Counting(suite_for(dataset), annotated)
        totals = counting.positioned.agg(*counting.aggregates).first()
        counted = None if totals is None else totals.asDict()
        return self._store_results(counting, counted, batch_id=batch_id, run_id=run_id)

    def observed(self, dataset: str, annotated: DataFrame) -> tuple[DataFrame, PendingResults]:
        """``annotated`` (from :meth:`annotate`) as a frame whose first action also counts
        each check's result (a Spark ``Observation``: no job of its own); the results are
        ready once that action ran (:meth:`PendingResults.results`)."""
        counting = _Counting(suite_for(dataset), annotated)
        # Unique: several datasets' batches may run at once in one session.
        observation = Observation(f"quality_{dataset}_{uuid.uuid4().hex[:12]}")
        counted = counting.positioned.observe(observation, *counting.aggregates)
        renamed = {d: derived_column(d) for d in counting.suite.derived}
        return counted.drop(_POSITION).withColumnsRenamed(renamed), PendingResults(
            self, counting, observation
        )

    def _store_results(
        self,
        counting: _Counting,
        totals: Mapping[str, Any] | None,
        *,
        batch_id: int,
        run_id: str,
    ) -> list[ExpectationResult]:
        """The results of ``totals`` (the aggregates of ``counting``), stored."""

        def samples(position: int) -> list[Any]:
            assert totals is not None
            return [_plain(v) for v in totals[aggregate_names(position).sample] or []]

        return self._store_compiled_results(
            counting.suite, counting.compiled, totals, samples, batch_id=batch_id, run_id=run_id
        )


class _Counting:
    """What counts a suite's results over annotated rows: the rows with a position column
    (the samples' order) and one aggregate per count."""

    def __init__(self, suite: DatasetSuite, annotated: DataFrame) -> None:
        self.suite = suite
        # The checks read the derived columns under their own names.
        framed = annotated.withColumnsRenamed({derived_column(d): d for d in suite.derived})
        self.compiled = [compile_check(check, framed.schema) for check in suite.checks]
        # Row order for the samples (a non-deterministic expression cannot be an aggregate's
        # argument, so it is a column first).
        self.positioned = framed.withColumn(_POSITION, F.monotonically_increasing_id())
        position = F.col(_POSITION)
        self.aggregates = [
            F.count(F.lit(1)).alias(TOTAL),
            *(agg for i, c in enumerate(self.compiled) for agg in _aggregates(i, c, position)),
        ]


class PendingResults:
    """The results :meth:`SparkQualityGate.observed` counts while its frame is written."""

    def __init__(
        self, gate: SparkQualityGate, counting: _Counting, observation: Observation
    ) -> None:
        self._gate = gate
        self._counting = counting
        self._observation = observation

    def results(self, *, batch_id: int, run_id: str) -> list[ExpectationResult]:
        """Each check's result, stored in silver/quality_results (none for an empty batch);
        waits for the frame's first action."""
        totals = self._observation.get
        return self._gate._store_results(self._counting, totals, batch_id=batch_id, run_id=run_id)


def _verdict_columns(compiled: Sequence[CompiledCheck]) -> dict[str, Column]:
    columns = {check_column(i): c.unexpected for i, c in enumerate(compiled)}
    for i, c in enumerate(compiled):
        if c.scope is not None:
            columns[scope_column(i)] = c.scope
    return columns


def _reason(compiled: Sequence[CompiledCheck]) -> Column:
    """The failed error checks' reasons in check order, joined; null when none failed."""
    failed = [
        F.when(F.col(check_column(i)), F.lit(c.check.reason))
        for i, c in enumerate(compiled)
        if c.check.severity == "error"
    ]
    if not failed:
        return F.lit(None).cast("string")
    return F.nullif(F.concat_ws(QUALITY_SEPARATOR, *failed), F.lit(""))


def _aggregates(position: int, compiled: CompiledCheck, order: Column) -> list[Column]:
    """Rows in scope, rows counted, unexpected rows, and the first unexpected values."""
    flag = F.col(check_column(position))
    in_scope = (
        F.count(F.lit(1)) if compiled.scope is None else F.count_if(F.col(scope_column(position)))
    )
    names = aggregate_names(position)
    return [
        in_scope.alias(names.in_scope),
        F.count(flag).alias(names.counted),
        F.count_if(flag).alias(names.unexpected),
        # The value only where unexpected: a sample's formatting is not paid on every row.
        F.min_by(F.when(flag, compiled.sample), F.when(flag, order), SAMPLE_SIZE).alias(
            names.sample
        ),
    ]


def _plain(value: Any) -> Any:
    """A pair's struct as the list GX gives (its tuple, as JSON)."""
    return list(value) if isinstance(value, Row) else value
