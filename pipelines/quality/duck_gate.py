"""The quality gate of the silver step as DuckDB SQL, in process.

The twin of :class:`~pipelines.quality.spark_gate.SparkQualityGate` for the local silver
engine: the same suites compiled to DuckDB SQL (:mod:`pipelines.quality.duck_rules`, derived
columns in :mod:`pipelines.quality.duck_derived`), the same added columns with the same values,
the same results. A micro-batch stays a DuckDB relation; only the per-check aggregates come to
Python::

    gate = DuckQualityGate.from_settings(settings.quality, lake, paths)  # once per run
    history = gate.nav_history_of_days(first_day, last_day) if dataset == "onchain" else None
    annotated = gate.annotate(con, dataset, rows, nav_history=history)  # lazy
    annotated = ...  # materialise it (a temporary table, Arrow) when it is read twice or more
    results = gate.results(con, dataset, annotated, batch_id=batch_id, run_id=run_id)  # 1 query
    valid = annotated.filter("reason IS NULL")  # then drop reason and gate.quality_columns(...)

``annotate`` adds, as Spark's does, the suite's derived columns as ``quality_<derived>``, then
``quality_check_NN`` per check NN (True = unexpected, False = passed, NULL = not counted by GX),
``quality_scope_NN`` per check with a row filter (True where it applies), and last ``reason``
(NULL when the row passes every error check, else the failed error checks' reasons joined by
:data:`~pipelines.contracts.quarantine.QUALITY_SEPARATOR` in check order). It is vectorised
SQL only: each check is evaluated once per row (one projection), ``reason`` reads the verdict
columns. The rows keep their order.

The connection is the caller's (the local engine runs ``SET TimeZone='UTC'``; nothing here
depends on it: instants are formatted and dated in UTC explicitly).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.contracts.quarantine import QUALITY_SEPARATOR
from pipelines.quality.compiled import (
    REASON_COLUMN,
    SAMPLE_SIZE,
    TOTAL,
    CompiledQualityGate,
    check_column,
    counted_name,
    derived_column,
    in_scope_name,
    refuse_taken_names,
    require_columns,
    sample_name,
    scope_column,
    unexpected_name,
)
from pipelines.quality.derived import columns_needed, read_nav_history
from pipelines.quality.duck_derived import with_derived_columns
from pipelines.quality.duck_rules import CompiledCheck, compile_check, quoted, text
from pipelines.quality.results import ExpectationResult
from pipelines.quality.suites import suite_for

_POSITION = "_quality_position"
#: The field a sample is wrapped in: ``min_by`` skips NULL values, and a not-null check's
#: samples are NULLs (GX lists them).
_SAMPLED = "v"


class DuckQualityGate(CompiledQualityGate):
    """Runs the row-level suites of :mod:`pipelines.quality.suites` as DuckDB SQL and stores
    the results; no Great Expectations, no Spark."""

    def nav_history(
        self, con: duckdb.DuckDBPyConnection, rows: duckdb.DuckDBPyRelation
    ) -> pa.Table | None:
        """The silver NAV window the onchain NAV check needs for ``rows`` (one small query for
        the batch's first and last UTC day, then a delta-rs read); None without rows or
        table."""
        del con  # the rows' own connection runs the query
        day = "CAST(timezone('UTC', ts) AS DATE)"
        (span,) = rows.aggregate(f"min({day}), max({day})").fetchall()
        if span[0] is None:
            return None
        return self.nav_history_of_days(span[0], span[1])

    def nav_history_of_days(self, first_day: dt.date, last_day: dt.date) -> pa.Table | None:
        """Silver NAV rows (asset_id, source, ts, nav_usd) for a batch whose ``ts`` span
        ``first_day``..``last_day`` (UTC), as Arrow; None while silver/onchain does not
        exist."""
        return read_nav_history(self._lake, self._onchain_uri, first_day, last_day)

    def annotate(
        self,
        con: duckdb.DuckDBPyConnection,
        dataset: str,
        rows: duckdb.DuckDBPyRelation,
        *,
        nav_history: pa.Table | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """``rows`` plus the quality columns and ``reason`` (lazy: nothing runs here).
        ConfigurationError for an unknown dataset, DataContractError when ``rows`` lack a
        column a check reads or already have a column the gate adds."""
        suite = suite_for(dataset)
        require_columns(dataset, rows.columns, columns_needed(suite))
        refuse_taken_names(dataset, rows.columns)
        framed = with_derived_columns(
            con, suite, rows, asset_classes=self._classes, nav_history=nav_history
        )
        compiled = [compile_check(check, _types(framed)) for check in suite.checks]
        verdicts = [f"{c.unexpected} AS {quoted(check_column(i))}" for i, c in enumerate(compiled)]
        verdicts += [
            f"{c.scope} AS {quoted(scope_column(i))}"
            for i, c in enumerate(compiled)
            if c.scope is not None
        ]
        flagged = framed.project(", ".join([*map(quoted, framed.columns), *verdicts]))
        # A second projection: the reason reads the verdicts, no check runs twice.
        shown = [
            *map(quoted, rows.columns),
            *(f"{quoted(d)} AS {quoted(derived_column(d))}" for d in suite.derived),
            *(quoted(c) for c in flagged.columns[len(framed.columns) :]),
            f"{_reason(compiled)} AS {quoted(REASON_COLUMN)}",
        ]
        return flagged.project(", ".join(shown))

    def results(
        self,
        con: duckdb.DuckDBPyConnection,
        dataset: str,
        annotated: duckdb.DuckDBPyRelation,
        *,
        batch_id: int,
        run_id: str,
    ) -> list[ExpectationResult]:
        """Each check's result over ``annotated`` (from :meth:`annotate`) in ONE aggregate
        query, stored in silver/quality_results; none for an empty batch (as the GX gate). The
        samples are the first unexpected values in the order of ``annotated``."""
        del con  # the relation's own connection runs the query
        suite = suite_for(dataset)
        # The checks read the derived columns under their own names; the row number is the
        # samples' order.
        named = [f"{quoted(derived_column(d))} AS {quoted(d)}" for d in suite.derived]
        framed = annotated.project(", ".join(["*", *named, f"row_number() OVER () AS {_POSITION}"]))
        compiled = [compile_check(check, _types(framed)) for check in suite.checks]
        aggregates = [f"count(*) AS {TOTAL}"]
        aggregates += [a for i, c in enumerate(compiled) for a in _aggregates(i, c)]
        (row,) = framed.aggregate(", ".join(aggregates)).fetchall()
        totals = dict(zip([TOTAL, *_names(compiled)], row, strict=True))
        return self._store_compiled_results(
            suite, compiled, totals, _samples(totals), batch_id=batch_id, run_id=run_id
        )


def _types(rows: duckdb.DuckDBPyRelation) -> dict[str, str]:
    return {name: str(kind) for name, kind in zip(rows.columns, rows.types, strict=True)}


def _reason(compiled: Sequence[CompiledCheck]) -> str:
    """The failed error checks' reasons in check order, joined; NULL when none failed."""
    failed = [
        f"CASE WHEN {quoted(check_column(i))} THEN {text(c.check.reason)} END"
        for i, c in enumerate(compiled)
        if c.check.severity == "error"
    ]
    if not failed:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(concat_ws({text(QUALITY_SEPARATOR)}, {', '.join(failed)}), '')"


def _aggregates(position: int, compiled: CompiledCheck) -> list[str]:
    """Rows in scope, rows counted, unexpected rows, and the first unexpected values."""
    flag = quoted(check_column(position))
    in_scope = (
        "count(*)"
        if compiled.scope is None
        else f"count(*) FILTER (WHERE {quoted(scope_column(position))})"
    )
    # The value only where unexpected: a sample's formatting is not paid on every row.
    sample = f"CASE WHEN {flag} THEN {{'{_SAMPLED}': {compiled.sample}}} END"
    return [
        f"{in_scope} AS {in_scope_name(position)}",
        f"count({flag}) AS {counted_name(position)}",
        f"count(*) FILTER (WHERE {flag}) AS {unexpected_name(position)}",
        f"min_by({sample}, {_POSITION}, {SAMPLE_SIZE}) FILTER (WHERE {flag}) "
        f"AS {sample_name(position)}",
    ]


def _names(compiled: Sequence[CompiledCheck]) -> list[str]:
    """The aggregates' names in the order of :func:`_aggregates`."""
    return [
        name(i)
        for i in range(len(compiled))
        for name in (in_scope_name, counted_name, unexpected_name, sample_name)
    ]


def _samples(totals: Mapping[str, Any] | None) -> Callable[[int], list[Any]]:
    def samples(position: int) -> list[Any]:
        assert totals is not None
        return [_plain(v[_SAMPLED]) for v in totals[sample_name(position)] or []]

    return samples


def _plain(value: Any) -> Any:
    """A pair's struct as the list GX gives (its tuple, as JSON)."""
    return list(value.values()) if isinstance(value, dict) else value
