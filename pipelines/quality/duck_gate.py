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
from pipelines.ingestion.sql_records import identifier
from pipelines.ingestion.sql_records import literal as sql_literal
from pipelines.quality import compiled as shared
from pipelines.quality.derived import read_nav_history
from pipelines.quality.duck_derived import with_derived_columns
from pipelines.quality.duck_rules import CompiledCheck, compile_check
from pipelines.quality.results import ExpectationResult
from pipelines.quality.suites import suite_for

_POSITION = "_quality_position"


class DuckQualityGate(shared.CompiledQualityGate):
    """Runs the row-level suites of :mod:`pipelines.quality.suites` as DuckDB SQL and stores
    the results; no Great Expectations, no Spark."""

    def nav_history(
        self, con: duckdb.DuckDBPyConnection, rows: duckdb.DuckDBPyRelation
    ) -> pa.Table | None:
        """The silver NAV window the onchain NAV check needs for ``rows`` (one small query for
        the batch's first and last UTC day, then a delta-rs read); None without rows or
        table. The query runs ``rows`` once more: a caller that knows the days calls
        :meth:`nav_history_of_days`."""
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
        suite = self._suite_of_rows(dataset, rows.columns)
        framed = with_derived_columns(
            con, suite, rows, asset_classes=self._classes, nav_history=nav_history
        )
        compiled = [compile_check(check, _types(framed)) for check in suite.checks]
        verdicts = [
            f"{c.unexpected} AS {identifier(shared.check_column(i))}"
            for i, c in enumerate(compiled)
        ]
        verdicts += [
            f"{c.scope} AS {identifier(shared.scope_column(i))}"
            for i, c in enumerate(compiled)
            if c.scope is not None
        ]
        flagged = framed.project(", ".join([*map(identifier, framed.columns), *verdicts]))
        # A second projection: the reason reads the verdicts, no check runs twice.
        shown = [
            *map(identifier, rows.columns),
            *(f"{identifier(d)} AS {identifier(shared.derived_column(d))}" for d in suite.derived),
            *(identifier(c) for c in flagged.columns[len(framed.columns) :]),
            f"{_reason(compiled)} AS {identifier(shared.REASON_COLUMN)}",
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
        named = [
            f"{identifier(shared.derived_column(d))} AS {identifier(d)}" for d in suite.derived
        ]
        framed = annotated.project(", ".join(["*", *named, f"row_number() OVER () AS {_POSITION}"]))
        compiled = [compile_check(check, _types(framed)) for check in suite.checks]
        aggregates = [f"count(*) AS {shared.TOTAL}"]
        aggregates += [a for i, c in enumerate(compiled) for a in _aggregates(i, c)]
        (row,) = framed.aggregate(", ".join(aggregates)).fetchall()
        totals = dict(zip([shared.TOTAL, *_names(compiled)], row, strict=True))
        return self._store_compiled_results(
            suite, compiled, totals, _samples(compiled, totals), batch_id=batch_id, run_id=run_id
        )


def _types(rows: duckdb.DuckDBPyRelation) -> dict[str, str]:
    return {name: str(kind) for name, kind in zip(rows.columns, rows.types, strict=True)}


def _reason(compiled: Sequence[CompiledCheck]) -> str:
    """The failed error checks' reasons in check order, joined; NULL when none failed."""
    failed = [
        f"CASE WHEN {identifier(shared.check_column(i))} THEN {sql_literal(c.check.reason)} END"
        for i, c in enumerate(compiled)
        if c.check.severity == "error"
    ]
    if not failed:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(concat_ws({sql_literal(QUALITY_SEPARATOR)}, {', '.join(failed)}), '')"


def _aggregates(position: int, compiled: CompiledCheck) -> list[str]:
    """Rows in scope, rows counted, unexpected rows, and the first unexpected rows' sample
    values (one list per value, in row order)."""
    flag = identifier(shared.check_column(position))
    in_scope = (
        "count(*)"
        if compiled.scope is None
        else f"count(*) FILTER (WHERE {identifier(shared.scope_column(position))})"
    )
    names = shared.aggregate_names(position)
    return [
        f"{in_scope} AS {names.in_scope}",
        f"count({flag}) AS {names.counted}",
        f"count(*) FILTER (WHERE {flag}) AS {names.unexpected}",
        *(
            f"min_by({value}, {_POSITION}, {shared.SAMPLE_SIZE}) FILTER (WHERE {flag}) "
            f"AS {names.sample}_{j}"
            for j, value in enumerate(compiled.sample.values)
        ),
    ]


def _names(compiled: Sequence[CompiledCheck]) -> list[str]:
    """The aggregates' names in the order of :func:`_aggregates`."""
    names: list[str] = []
    for i, c in enumerate(compiled):
        in_scope, counted, unexpected, sample = shared.aggregate_names(i)
        names += [in_scope, counted, unexpected]
        names += [f"{sample}_{j}" for j in range(len(c.sample.values))]
    return names


def _samples(
    compiled: Sequence[CompiledCheck], totals: Mapping[str, Any]
) -> Callable[[int], list[Any]]:
    """Check i's sampled values as GX lists them (the values are never NULL where a check is
    unexpected: the lists of one check are as long as each other)."""

    def samples(position: int) -> list[Any]:
        sample = compiled[position].sample
        name = shared.aggregate_names(position).sample
        lists = [totals[f"{name}_{j}"] or [] for j in range(len(sample.values))]
        return [sample.shown(values) for values in zip(*lists, strict=True)]

    return samples
