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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, Row, SparkSession
from pyspark.sql import functions as F

from pipelines.contracts.quarantine import QUALITY_SEPARATOR
from pipelines.core.errors import DataContractError
from pipelines.core.settings import QualitySettings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.quality.derived import asset_classes, columns_needed
from pipelines.quality.results import ExpectationResult, ResultStore, make_result
from pipelines.quality.spark_derived import read_nav_history, with_derived_columns
from pipelines.quality.spark_rules import CompiledCheck, compile_check
from pipelines.quality.suites import DatasetSuite, suite_for

REASON_COLUMN = "reason"
#: Prefix of every column ``annotate`` adds besides ``reason``.
QUALITY_PREFIX = "quality_"
#: Unexpected values kept per check as the result's observed value (as the GX gate keeps).
SAMPLE_SIZE = 5
_TOTAL = "rows"
_POSITION = "_quality_position"

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_column(position: int) -> str:
    """The verdict column of the suite's check at ``position``."""
    return f"{QUALITY_PREFIX}check_{position:02d}"


def scope_column(position: int) -> str:
    """The row-filter column of the suite's check at ``position`` (only if it has a filter)."""
    return f"{QUALITY_PREFIX}scope_{position:02d}"


def derived_column(name: str) -> str:
    return f"{QUALITY_PREFIX}{name}"


def quality_columns(suite: DatasetSuite) -> tuple[str, ...]:
    """The columns ``annotate`` adds to ``suite``'s rows besides ``reason``."""
    checks = [check_column(i) for i in range(len(suite.checks))]
    scopes = [scope_column(i) for i, c in enumerate(suite.checks) if c.where is not None]
    return (*checks, *scopes, *(derived_column(d) for d in suite.derived))


class SparkQualityGate:
    """Runs the row-level suites of :mod:`pipelines.quality.suites` as Spark expressions and
    stores the results; no Great Expectations at run time."""

    def __init__(
        self,
        lake: DeltaLake,
        *,
        results_uri: str,
        onchain_uri: str,
        classes: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._lake = lake
        self._store = ResultStore(lake, results_uri)
        self._onchain_uri = onchain_uri
        self._classes = asset_classes() if classes is None else classes
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: QualitySettings, lake: DeltaLake, paths: LakePaths
    ) -> SparkQualityGate:
        del settings  # the row-level checks have no thresholds; kept like QualityGate's
        return cls(lake, results_uri=paths.quality_results, onchain_uri=paths.silver("onchain"))

    def quality_columns(self, dataset: str) -> tuple[str, ...]:
        return quality_columns(suite_for(dataset))

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
        suite = suite_for(dataset)
        _require_columns(dataset, rows.columns, columns_needed(suite))
        _refuse_taken_names(dataset, rows.columns)
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
        if totals is None or totals[_TOTAL] == 0:
            return []
        validated_at = self._clock()
        suite = counting.suite
        results = [
            make_result(
                c.check,
                _gx_result(i, c, totals),
                success=totals[f"u{i}"] == 0,
                run_id=run_id,
                dataset=suite.dataset,
                batch_id=batch_id,
                suite=suite.name,
                validated_at=validated_at,
            )
            for i, c in enumerate(counting.compiled)
        ]
        self._store.save(results)
        return results


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
            F.count(F.lit(1)).alias(_TOTAL),
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


def _require_columns(dataset: str, present: Sequence[str], needed: Sequence[str]) -> None:
    missing = sorted(set(needed) - set(present))
    if missing:
        raise DataContractError(
            f"{dataset} rows lack silver column(s) {', '.join(missing)} (see docs/data-model.md)"
        )


def _refuse_taken_names(dataset: str, present: Sequence[str]) -> None:
    """The columns annotate adds must not overwrite the caller's (a parse's structural
    ``reason``, say): the caller drops or renames them first."""
    taken = [c for c in present if c == REASON_COLUMN or c.startswith(QUALITY_PREFIX)]
    if taken:
        raise DataContractError(
            f"{dataset} rows already have column(s) {', '.join(taken)}, which the quality gate "
            "adds: drop or rename them first"
        )


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
    return [
        in_scope.alias(f"e{position}"),
        F.count(flag).alias(f"p{position}"),
        F.count_if(flag).alias(f"u{position}"),
        # The value only where unexpected: a sample's formatting is not paid on every row.
        F.min_by(F.when(flag, compiled.sample), F.when(flag, order), SAMPLE_SIZE).alias(
            f"s{position}"
        ),
    ]


def _gx_result(position: int, compiled: CompiledCheck, totals: Mapping[str, Any]) -> dict[str, Any]:
    """The check's counts as GX's ``result`` dictionary (what :func:`make_result` reads)."""
    element, present = int(totals[f"e{position}"]), int(totals[f"p{position}"])
    unexpected = int(totals[f"u{position}"])
    base = present if compiled.share_of_present else element
    percent = unexpected / base * 100 if element > 0 and base > 0 else None
    sample = [_plain(v) for v in totals[f"s{position}"] or []]
    return {
        "element_count": element,
        "unexpected_count": unexpected,
        "unexpected_percent": percent,
        "partial_unexpected_list": sample,
    }


def _plain(value: Any) -> Any:
    """A pair's struct as the list GX gives (its tuple, as JSON)."""
    return list(value) if isinstance(value, Row) else value
