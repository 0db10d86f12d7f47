"""The whole-table checks of :func:`pipelines.quality.suites.table_checks` as DuckDB aggregates.

A silver table can be far larger than any micro-batch, so these checks do not pull it onto the
driver as a pandas frame for Great Expectations: DuckDB scans the table's Arrow dataset a batch
at a time under a memory limit (an aggregate that outgrows it spills to a scratch folder), and
only the aggregates and at most :data:`SAMPLE_ROWS` sample rows come back. The verdicts are
GX's own, in the shape of GX's ``SUMMARY`` result (the fields :func:`make_result` keeps), with
its pandas engine's semantics, which stay the reference
(``tests/pipelines/quality/test_table_checks.py`` checks that both agree):

* ``expect_compound_columns_to_be_unique``: a row whose key columns are all missing is not
  counted (``missing_count``); the unexpected rows are every row of a key met more than once
  (missing values compare equal, as in ``DataFrame.duplicated``); the share is of the counted
  rows; the sample is the first unexpected rows in table order.
* ``expect_column_max_to_be_between``: the largest non-missing value (``NaT`` when there is
  none, which fails), compared with the bounds inclusively.

A date time column becomes a UTC midnight time stamp first, as for GX (freshness compares
instants). An expectation type or argument this module does not know raises
:class:`ConfigurationError`: a new table check can never be skipped silently.
"""

from __future__ import annotations

import tempfile
from collections.abc import Hashable, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from pipelines.core.errors import ConfigurationError
from pipelines.ingestion.sql_records import identifier
from pipelines.quality.suites import Check

#: Rows GX lists as ``partial_unexpected_list`` in its SUMMARY results.
SAMPLE_ROWS = 5
#: DuckDB's memory for one table check; larger aggregates spill to disk.
MEMORY_LIMIT = "64MB"
_UNIQUE = "expect_compound_columns_to_be_unique"
_MAX = "expect_column_max_to_be_between"
_ROWS = "silver_rows"
_KNOWN_KWARGS = {_UNIQUE: {"column_list"}, _MAX: {"column", "min_value", "max_value"}}


def table_columns(checks: Sequence[Check]) -> list[str]:
    """The columns the checks read, in a stable order."""
    return list(dict.fromkeys(c for check in checks for c in check.columns))


def run_table_checks(
    dataset: pads.Dataset, checks: Sequence[Check], time_column: str
) -> list[tuple[Check, bool, dict[str, Any]]]:
    """Each check with its success and GX's ``result`` dict, over ``dataset`` (the table's
    current snapshot); ``time_column`` is read as an instant when it holds dates."""
    import duckdb

    for check in checks:
        known = _KNOWN_KWARGS.get(check.expectation)
        if known is None or not set(check.kwargs) <= known or check.where is not None:
            raise ConfigurationError(
                f"table check {check.expectation} {dict(check.kwargs)} has no DuckDB form "
                f"(pipelines/quality/table_checks.py)"
            )
    with tempfile.TemporaryDirectory(prefix="rwa-table-checks-") as spill:
        connection = duckdb.connect(
            config={
                "memory_limit": MEMORY_LIMIT,
                "threads": 1,  # also keeps the scan's order for the samples
                "preserve_insertion_order": True,
                "temp_directory": spill,
            }
        )
        try:
            # A dataset, not a reader: each query scans it again, a batch at a time.
            connection.register(_ROWS, dataset)
            return [_run(connection, check, time_column) for check in checks]
        finally:
            connection.close()


def _run(connection: Any, check: Check, time_column: str) -> tuple[Check, bool, dict[str, Any]]:
    if check.expectation == _UNIQUE:
        return _unique(connection, check, time_column)
    return _column_max(connection, check, time_column)


def _unique(connection: Any, check: Check, time_column: str) -> tuple[Check, bool, dict[str, Any]]:
    keys = [identifier(c) for c in check.kwargs["column_list"]]
    listed = ", ".join(keys)
    all_missing = " AND ".join(f"{k} IS NULL" for k in keys)
    repeated = (
        f"SELECT {listed}, count(*) AS n FROM {_ROWS} WHERE NOT ({all_missing}) "
        f"GROUP BY {listed} HAVING count(*) > 1"
    )
    nulls = ", ".join(f"count(*) - count({k})" for k in keys)
    element_count, missing_count, *null_counts = connection.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {all_missing}), {nulls} FROM {_ROWS}"
    ).fetchone()
    (unexpected_count,) = connection.execute(
        f"SELECT coalesce(sum(n), 0) FROM ({repeated})"
    ).fetchone()
    element_count, missing_count = int(element_count), int(missing_count)
    unexpected_count = int(unexpected_count)
    sample: list[dict[Hashable, Any]] = []
    if unexpected_count:
        same_key = " AND ".join(f"r.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
        picked = ", ".join(f"r.{k}" for k in keys)
        rows = connection.execute(
            f"SELECT {picked} FROM {_ROWS} AS r SEMI JOIN ({repeated}) AS d ON {same_key} "
            f"LIMIT {SAMPLE_ROWS}"
        ).to_arrow_table()
        # pandas holds a whole integer column that has a missing value as floats: so GX did.
        with_nulls = [c for c, n in zip(check.kwargs["column_list"], null_counts, strict=True) if n]
        sample = _frame(_floats_where(rows, with_nulls), time_column).to_dict("records")
    counted = element_count - missing_count
    result = {
        "element_count": element_count,
        "unexpected_count": unexpected_count,
        "unexpected_percent": unexpected_count / counted * 100 if counted else None,
        "partial_unexpected_list": sample,
        "missing_count": missing_count,
    }
    return check, unexpected_count == 0, result


def _column_max(
    connection: Any, check: Check, time_column: str
) -> tuple[Check, bool, dict[str, Any]]:
    column = str(check.kwargs["column"])
    largest = connection.execute(
        f"SELECT max({identifier(column)}) AS {identifier(column)} FROM {_ROWS}"
    ).to_arrow_table()
    observed = _frame(largest, time_column)[column].iloc[0]
    low, high = check.kwargs.get("min_value"), check.kwargs.get("max_value")
    success = not pd.isna(observed)
    if success and low is not None:
        success = bool(observed >= low)
    if success and high is not None:
        success = bool(observed <= high)
    return check, success, {"observed_value": observed}


def _floats_where(rows: pa.Table, columns: Sequence[str]) -> pa.Table:
    """``rows`` with the integer ``columns`` as floats."""
    for name in columns:
        index = rows.schema.get_field_index(name)
        if pa.types.is_integer(rows.schema.field(index).type):
            rows = rows.set_column(index, name, rows.column(index).cast(pa.float64()))
    return rows


def as_instants(table: pa.Table, time_column: str) -> pa.Table:
    """``table`` with a date ``time_column`` as UTC midnights (freshness compares instants)."""
    index = table.schema.get_field_index(time_column)
    if index < 0 or not pa.types.is_date(table.schema.field(index).type):
        return table
    as_instant = table.column(index).cast(pa.timestamp("us")).cast(pa.timestamp("us", "UTC"))
    return table.set_column(index, time_column, as_instant)


def _frame(table: pa.Table, time_column: str) -> pd.DataFrame:
    """Result rows as GX's pandas frame of the table holds their values. DuckDB hands instants
    back in its session's time zone (the machine's; no ICU extension to set it offline): the
    same instants, shown in UTC as silver holds them."""
    table = as_instants(table, time_column)
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            utc = pa.timestamp(field.type.unit, "UTC")
            table = table.set_column(index, field.name, table.column(index).cast(utc))
    return table.to_pandas(date_as_object=False, ignore_metadata=True)
