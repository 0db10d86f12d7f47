"""The data-quality gate of the silver steps.

Build it once per run (the GX context and the suites are built once per process, on the first
:meth:`QualityGate.check`), then call :meth:`QualityGate.check` on every micro-batch and
:meth:`QualityGate.check_table` on each silver table after a run::

    gate = QualityGate.from_settings(settings.quality, lake, paths)
    outcome = gate.check("prices", rows, batch_id=batch_id, run_id=run_id)
    outcome.valid      # rows passing every row-level check (same schema as ``rows``)
    outcome.rejected   # the others, plus a ``reason`` naming the failed checks in words

The gate never raises for bad data -- the silver step decides from the counts whether a batch
fails (``settings.quality.max_failure_share``). It raises :class:`ConfigurationError` for an
unknown dataset and :class:`DataContractError` when ``rows`` lacks a silver column a check
reads. Every expectation result is stored in ``silver/quality_results``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from pipelines.contracts.quarantine import QUALITY_SEPARATOR
from pipelines.core.settings import QualitySettings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.quality.compiled import REASON_COLUMN, Clock, require_columns, utc_now
from pipelines.quality.derived import (
    DerivationContext,
    NavHistory,
    asset_classes,
    columns_needed,
    to_validation_frame,
    with_derived_columns,
)
from pipelines.quality.results import CheckResult, ExpectationResult, ResultStore, make_result
from pipelines.quality.suites import DatasetSuite, suite_for, table_checks
from pipelines.quality.table_checks import run_table_checks, snapshot_files

if TYPE_CHECKING:
    from pipelines.quality.validator import GxValidator

_REASON_SEPARATOR = QUALITY_SEPARATOR


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """One micro-batch through the gate."""

    valid: pa.Table
    rejected: pa.Table
    results: list[ExpectationResult]

    @property
    def rows_in(self) -> int:
        return int(self.valid.num_rows + self.rejected.num_rows)

    @property
    def rejected_share(self) -> float:
        """Share of the batch refused (0 for an empty batch)."""
        return self.rejected.num_rows / self.rows_in if self.rows_in else 0.0


class QualityGate:
    """Runs the expectation suites of :mod:`pipelines.quality.suites` and stores the results."""

    def __init__(
        self,
        lake: DeltaLake,
        *,
        results_uri: str,
        onchain_uri: str,
        freshness_hours: float,
        clock: Clock = utc_now,
    ) -> None:
        self._lake = lake
        self._store = ResultStore(lake, results_uri)
        self._derivation = DerivationContext(
            asset_classes=asset_classes(), nav_history=NavHistory(lake, onchain_uri)
        )
        self._freshness_hours = freshness_hours
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: QualitySettings, lake: DeltaLake, paths: LakePaths
    ) -> QualityGate:
        return cls(
            lake,
            results_uri=paths.quality_results,
            onchain_uri=paths.silver("onchain"),
            freshness_hours=settings.freshness_hours,
        )

    # --- per micro-batch -------------------------------------------------------------------
    def check(self, dataset: str, rows: pa.Table, *, batch_id: int, run_id: str) -> GateOutcome:
        """Split ``rows`` (silver columns of ``dataset``) into valid and rejected rows, in their
        original order, and store the batch's expectation results."""
        suite = suite_for(dataset)
        needed = columns_needed(suite)
        require_columns(dataset, rows.column_names, needed)
        if rows.num_rows == 0:
            return GateOutcome(rows, _with_reasons(rows, pa.array([], pa.string())), [])
        frame = with_derived_columns(suite, to_validation_frame(rows, needed), self._derivation)
        verdicts = self._validator().validate_rows(dataset, frame)
        results = self._results(suite, verdicts, batch_id=batch_id, run_id=run_id)
        self._store.save(results)
        reasons = _reasons(verdicts, rows.num_rows)
        refused = reasons != ""
        valid = rows.filter(pa.array(~refused))
        rejected = _with_reasons(rows.filter(pa.array(refused)), pa.array(reasons[refused]))
        return GateOutcome(valid, rejected, results)

    # --- per table, after a run ------------------------------------------------------------
    def check_table(
        self, dataset: str, silver_table_uri: str, *, run_id: str
    ) -> list[ExpectationResult]:
        """Whole-table checks of a silver table (key uniqueness; freshness, a warning); the
        results are stored and returned. Raises NotFoundError when the table does not exist."""
        suite = suite_for(dataset)
        checks = table_checks(suite, now=self._clock(), freshness_hours=self._freshness_hours)
        # DuckDB aggregates over the table's files with GX's semantics: the table never comes
        # to the driver whole (pipelines/quality/table_checks.py).
        rows = snapshot_files(self._lake.table(silver_table_uri))
        verdicts = [
            CheckResult(check, success, result)
            for check, success, result in run_table_checks(rows, checks, suite.time_column)
        ]
        results = self._results(suite, verdicts, batch_id=None, run_id=run_id)
        self._store.save(results)
        return results

    @staticmethod
    def _validator() -> GxValidator:
        """GX on pandas, for :meth:`check` only. Great Expectations takes seconds to import and
        its context about a second to build: the silver stream gates its micro-batches in Spark
        and checks whole tables in DuckDB, so a silver run never pays for them."""
        from pipelines.quality.validator import silver_validator

        return silver_validator()

    def _results(
        self,
        suite: DatasetSuite,
        verdicts: Sequence[CheckResult],
        *,
        batch_id: int | None,
        run_id: str,
    ) -> list[ExpectationResult]:
        validated_at = self._clock()
        return [
            make_result(
                v.check,
                v.result,
                success=v.success,
                run_id=run_id,
                dataset=suite.dataset,
                batch_id=batch_id,
                suite=suite.name,
                validated_at=validated_at,
            )
            for v in verdicts
        ]


def _reasons(verdicts: Sequence[CheckResult], row_count: int) -> np.ndarray:
    """Per row, the failed error-severity checks in words joined by "; " ("" = passed).
    Vectorised per check over its failing positions, never per row."""
    reasons = np.full(row_count, "", dtype=object)
    for verdict in verdicts:
        if verdict.success or verdict.check.severity != "error":
            continue
        positions = np.asarray(verdict.unexpected_rows, dtype=np.int64)
        current = reasons[positions]
        reason = verdict.check.reason
        reasons[positions] = np.where(current == "", reason, current + _REASON_SEPARATOR + reason)
    return reasons


def _with_reasons(rows: pa.Table, reasons: pa.Array[Any]) -> pa.Table:
    return rows.append_column(pa.field(REASON_COLUMN, pa.string()), reasons.cast(pa.string()))
