"""The ``silver/quality_results`` table: one row per expectation per batch or table check.

Rows are MERGEd by ``result_id``, a hash of what was checked (dataset, batch or run, suite,
expectation and its arguments), so a replayed micro-batch updates its rows instead of adding
new ones. Batch results are identified by ``batch_id`` (a replay after a crash runs under a new
``run_id`` and must not duplicate); table checks, which have no batch, by ``run_id``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts.silver import QUALITY_RESULTS
from pipelines.lake.delta import DeltaLake, WriteOutcome
from pipelines.lake.paths import LakePaths
from pipelines.quality.suites import Check, Severity

#: A replay or re-check replaces the stored row only with a later validation.
_NEWER = "s.validated_at > t.validated_at"
#: Unexpected values kept as the observed value of a failed row-level check.
_SAMPLE_VALUES = 5


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A verdict on one of our checks: success and a GX-shaped ``result`` dictionary (from GX
    itself, or from the whole-table checks that compute GX's semantics without it)."""

    check: Check
    success: bool
    result: dict[str, Any]

    @property
    def unexpected_rows(self) -> list[int]:
        """Positions of the failing rows (row-level checks with COMPLETE results)."""
        return [int(i) for i in self.result.get("unexpected_index_list") or []]


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """One expectation's outcome on one batch (or, with ``batch_id`` None, on a whole table)."""

    result_id: str
    run_id: str
    dataset: str
    batch_id: int | None
    suite: str
    expectation: str
    columns: str
    kwargs: str
    rule: str
    severity: Severity
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: str | None
    validated_at: dt.datetime


def describe_kwargs(check: Check) -> str:
    """The check's arguments as stable JSON (the row filter included)."""
    shown: dict[str, Any] = dict(check.kwargs)
    if check.where is not None:
        shown["row_condition"] = check.where.describe()
    return json.dumps(shown, sort_keys=True, default=str)


def make_result(
    check: Check,
    gx_result: dict[str, Any],
    *,
    success: bool,
    run_id: str,
    dataset: str,
    batch_id: int | None,
    suite: str,
    validated_at: dt.datetime,
) -> ExpectationResult:
    """Our row for one GX expectation result (``gx_result`` is GX's ``result`` dict)."""
    kwargs = describe_kwargs(check)
    scope = f"batch:{batch_id}" if batch_id is not None else f"run:{run_id}"
    identity = "\x1f".join((dataset, scope, suite, check.expectation, kwargs))
    return ExpectationResult(
        result_id=hashlib.sha256(identity.encode()).hexdigest(),
        run_id=run_id,
        dataset=dataset,
        batch_id=batch_id,
        suite=suite,
        expectation=check.expectation,
        columns=",".join(check.columns),
        kwargs=kwargs,
        rule=check.says,
        severity=check.severity,
        success=success,
        element_count=_optional_int(gx_result.get("element_count")),
        unexpected_count=_optional_int(gx_result.get("unexpected_count")),
        unexpected_percent=_optional_float(gx_result.get("unexpected_percent")),
        observed_value=_observed_value(gx_result),
        validated_at=validated_at,
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _observed_value(gx_result: dict[str, Any]) -> str | None:
    """GX's observed value (aggregate checks), else a sample of the unexpected values."""
    if "observed_value" in gx_result:
        return json.dumps(gx_result["observed_value"], default=str)
    sample = gx_result.get("partial_unexpected_list") or []
    if not sample:
        return None
    return json.dumps(list(sample[:_SAMPLE_VALUES]), default=str)


def results_to_arrow(results: Sequence[ExpectationResult]) -> pa.Table:
    return pa.Table.from_pylist([asdict(r) for r in results], schema=QUALITY_RESULTS.schema)


class ResultStore:
    """Writes expectation results to ``silver/quality_results`` and reads them back."""

    def __init__(self, lake: DeltaLake, uri: str) -> None:
        self._lake = lake
        self._uri = uri

    def save(self, results: Sequence[ExpectationResult]) -> WriteOutcome:
        return self._lake.merge(
            results_to_arrow(results),
            self._uri,
            keys=QUALITY_RESULTS.keys,
            update_when=_NEWER,
            partition_by=QUALITY_RESULTS.partition_by,
        )

    def read(self) -> pa.Table:
        if not self._lake.exists(self._uri):
            return QUALITY_RESULTS.schema.empty_table()
        return self._lake.to_arrow(self._uri)


def latest_results(lake: DeltaLake, paths: LakePaths, dataset: str | None = None) -> pa.Table:
    """The results of the latest run of each dataset (or of ``dataset`` only), batch and
    table checks together, sorted by dataset, batch and expectation. The latest run of a
    dataset is the one with the newest ``validated_at``."""
    table = ResultStore(lake, paths.quality_results).read()
    if dataset is not None:
        table = table.filter(pc.equal(table["dataset"], pa.scalar(dataset)))
    if table.num_rows == 0:
        return table
    latest = (
        table.group_by("dataset")
        .aggregate([("validated_at", "max")])
        .join(table.select(["dataset", "run_id", "validated_at"]), ["dataset"])
    )
    newest = latest.filter(pc.equal(latest["validated_at_max"], latest["validated_at"]))
    runs = newest.select(["dataset", "run_id"]).group_by(["dataset", "run_id"]).aggregate([])
    picked = table.join(runs, ["dataset", "run_id"], join_type="inner")
    return picked.select(QUALITY_RESULTS.schema.names).sort_by(
        [("dataset", "ascending"), ("batch_id", "ascending"), ("expectation", "ascending")]
    )


_SHOWN = ("dataset", "batch_id", "severity", "success", "unexpected_count", "rule")


def format_results(table: pa.Table) -> str:
    """A plain-text table for ``rwa quality``: one line per expectation result, failures
    marked, then a one-line summary."""
    if table.num_rows == 0:
        return "no quality results yet"
    rows = [
        [_cell(name, value) for name, value in zip(_SHOWN, row, strict=True)]
        for row in _rows(table)
    ]
    header = ["dataset", "batch", "severity", "status", "unexpected", "rule"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [_line(header, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(r, widths) for r in rows]
    failed = sum(1 for r in rows if r[3] != "ok")
    lines.append(f"{table.num_rows} results, {failed} failed")
    return "\n".join(lines)


def _rows(table: pa.Table) -> Iterable[tuple[Any, ...]]:
    columns = [table[name].to_pylist() for name in _SHOWN]
    return zip(*columns, strict=True)


def _cell(name: str, value: Any) -> str:
    if name == "success":
        return "ok" if value else "FAILED"
    if name == "batch_id" and value is None:
        return "table"
    return "" if value is None else str(value)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
