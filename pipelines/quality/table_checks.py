"""The whole-table checks of :func:`pipelines.quality.suites.table_checks` as DuckDB aggregates.

A silver table can be far larger than any micro-batch, so these checks do not pull it onto the
driver as a pandas frame for Great Expectations: DuckDB scans the table's files under a memory
limit (an aggregate that outgrows it spills to a scratch folder) on every core, and only the
aggregates and at most :data:`SAMPLE_ROWS` sample rows come back. A Delta snapshot is read by
DuckDB's own Parquet reader, only the checked columns, each file with its partition values
from the Delta log (:func:`snapshot_files`; about four times cheaper than scanning delta-rs's
Arrow dataset, which the checks still read where the snapshot needs delta-rs: column mapping,
deletion vectors, files not on this machine). The verdicts are GX's own, in the shape of GX's
``SUMMARY`` result (the fields :func:`make_result` keeps), with its pandas engine's semantics,
which stay the reference (``tests/pipelines/quality/test_table_checks.py`` checks that both
agree):

* ``expect_compound_columns_to_be_unique``: a row whose key columns are all missing is not
  counted (``missing_count``); the unexpected rows are every row of a key met more than once
  (missing values compare equal, as in ``DataFrame.duplicated``); the share is of the counted
  rows; the sample is the first unexpected rows in table order.
* ``expect_column_max_to_be_between``: the largest non-missing value (``NaT`` when there is
  none, which fails), compared with the bounds inclusively.

One scan groups the rows by the key and takes the largest values of the time columns with it;
a second one, in table order, runs only when there are duplicates (their sample).

A date time column becomes a UTC midnight time stamp first, as for GX (freshness compares
instants). An expectation type or argument this module does not know raises
:class:`ConfigurationError`: a new table check can never be skipped silently.
"""

from __future__ import annotations

import tempfile
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from pipelines.core.errors import ConfigurationError, DataQualityError
from pipelines.ingestion.sql_records import identifier, literal
from pipelines.quality.suites import Check

if TYPE_CHECKING:
    from deltalake import DeltaTable

#: Rows GX lists as ``partial_unexpected_list`` in its SUMMARY results.
SAMPLE_ROWS = 5
#: DuckDB's memory for the table checks; larger aggregates spill to disk.
MEMORY_LIMIT = "64MB"
_UNIQUE = "expect_compound_columns_to_be_unique"
_MAX = "expect_column_max_to_be_between"
_KNOWN_KWARGS = {_UNIQUE: {"column_list"}, _MAX: {"column", "min_value", "max_value"}}
_ROWS, _FILES, _SCHEMA = "silver_rows", "_silver_files", "_silver_schema"
#: Where a row of a snapshot's files is: the file's place in the snapshot, the row's in it.
_FILE, _ROW = "_rwa_file", "file_row_number"
_PATH = "_rwa_path"


@dataclass(frozen=True, slots=True)
class SnapshotFiles:
    """A Delta snapshot's data files as DuckDB's Parquet reader reads them: ``files`` holds
    each file's local path (``_rwa_path``) and its partition values, in the snapshot's order;
    ``schema`` is the table's (the type each column is read as)."""

    files: pa.Table
    schema: pa.Schema
    #: The snapshot's rows by its log (None where a file's count is not in it).
    rows: int | None = None


def snapshot_files(table: DeltaTable) -> SnapshotFiles | pads.Dataset:
    """What the checks read of ``table``'s current snapshot: its files for DuckDB's Parquet
    reader, or delta-rs's Arrow dataset where that reader would not read the snapshot right (a
    reader protocol above 1: column mapping, deletion vectors; files not on this machine; a
    column named like the reader's own) or there is no file at all."""
    uris = table.file_uris()
    # delta-rs hands arro3 objects: converted through the Arrow C interface.
    schema = pa.schema(cast(Any, table.schema().to_arrow()))
    readable = (
        table.protocol().min_reader_version == 1
        and bool(uris)
        and all(Path(uri).is_absolute() for uri in uris)
        and not {_FILE, _ROW, _PATH} & set(schema.names)
    )
    if not readable:
        return table.to_pyarrow_dataset()
    added = pa.table(cast(Any, table.get_add_actions(flatten=True)))
    paths = [str(path) for path in added.column("path").to_pylist()]
    # The partition values come from the log; each file must be the log's entry at its place.
    if len(paths) != len(uris) or not all(
        uri.endswith("/" + path) or uri.endswith("/" + unquote(path))
        for uri, path in zip(uris, paths, strict=True)
    ):
        return table.to_pyarrow_dataset()
    files = pa.table({_PATH: pa.array(uris, pa.string())})
    for name in table.metadata().partition_columns:
        values = added.column(f"partition.{name}").cast(schema.field(name).type)
        files = files.append_column(name, values)
    counts = added.column("num_records") if "num_records" in added.column_names else None
    rows = None if counts is None or counts.null_count else int(pc.sum(counts).as_py())
    return SnapshotFiles(files, schema, rows)


def table_columns(checks: Sequence[Check]) -> list[str]:
    """The columns the checks read, in a stable order."""
    return list(dict.fromkeys(c for check in checks for c in check.columns))


def run_table_checks(
    rows: pads.Dataset | SnapshotFiles, checks: Sequence[Check], time_column: str
) -> list[tuple[Check, bool, dict[str, Any]]]:
    """Each check with its success and GX's ``result`` dict, over ``rows`` (the table's
    current snapshot: an Arrow dataset or :func:`snapshot_files`); ``time_column`` is read as
    an instant when it holds dates."""
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
                "preserve_insertion_order": True,
                "temp_directory": spill,
            }
        )
        try:
            connection.execute("SET TimeZone = 'UTC'")
            ordered = _register(connection, rows, table_columns(checks))
            expected = rows.rows if isinstance(rows, SnapshotFiles) else None
            return _run(connection, checks, time_column, ordered, expected)
        finally:
            connection.close()


def _register(connection: Any, rows: pads.Dataset | SnapshotFiles, columns: list[str]) -> bool:
    """``rows``' ``columns`` as the view ``silver_rows``; True when the view also has each
    row's place in the table (``_rwa_file``, ``file_row_number``) to order by."""
    if not isinstance(rows, SnapshotFiles):
        # A dataset, not a reader: each query scans it again, a batch at a time.
        connection.register(_ROWS, rows)
        return False
    files = rows.files.append_column(_FILE, pa.array(range(rows.files.num_rows), pa.int64()))
    connection.register(_FILES, files)
    # The type each column is read as: the table's, whatever a file's Parquet type (an INT96
    # time stamp is a naive one to DuckDB).
    connection.register(_SCHEMA, rows.schema.empty_table())
    types = dict(
        (name, kind) for name, kind, *_ in connection.execute(f"DESCRIBE {_SCHEMA}").fetchall()
    )
    partitions = set(rows.files.column_names)
    shown = [
        f"f.{identifier(c)}"
        if c in partitions
        else f"CAST(r.{identifier(c)} AS {types[c]}) AS {identifier(c)}"
        for c in columns
    ]
    listed = ", ".join(literal(path) for path in rows.files.column(_PATH).to_pylist())
    connection.execute(
        f"CREATE TEMP VIEW {_ROWS} AS SELECT {', '.join(shown)}, f.{_FILE}, r.{_ROW}"
        f" FROM read_parquet([{listed}], filename = {literal(_PATH)}, file_row_number = true,"
        f" union_by_name = true) AS r JOIN {_FILES} AS f USING ({_PATH})"
    )
    return True


def _run(
    connection: Any,
    checks: Sequence[Check],
    time_column: str,
    ordered: bool,
    expected_rows: int | None = None,
) -> list[tuple[Check, bool, dict[str, Any]]]:
    """Every check's verdict: each key's groups in one scan, the largest values of the max
    checks' columns taken in the first one's (a scan of their own without a key check)."""
    largest = list(dict.fromkeys(str(c.kwargs["column"]) for c in checks if c.expectation == _MAX))
    maxima: pa.Table | None = None
    verdicts: dict[int, tuple[Check, bool, dict[str, Any]]] = {}
    for index, check in enumerate(checks):
        if check.expectation != _UNIQUE:
            continue
        counts = _key_groups(connection, check, [] if maxima is not None else largest)
        _require_every_row(counts, expected_rows)
        if maxima is None:
            maxima = counts.select(largest)
        verdicts[index] = _unique(connection, check, counts, time_column, ordered)
    if maxima is None and largest:
        shown = ", ".join(f"max({identifier(c)}) AS {identifier(c)}" for c in largest)
        maxima = _arrow(connection, f"SELECT {shown} FROM {_ROWS}")
    for index, check in enumerate(checks):
        if check.expectation == _MAX and maxima is not None:
            verdicts[index] = _column_max(check, maxima, time_column)
    return [verdicts[index] for index in range(len(checks))]


def _require_every_row(counts: pa.Table, expected_rows: int | None) -> None:
    """A key check must have read every row of the snapshot: the files are joined to their
    partition values by path, and a path DuckDB wrote otherwise would drop its rows silently
    (the checks would then pass on part of the table)."""
    seen = int(counts.column("elements")[0].as_py())
    if expected_rows is not None and seen != expected_rows:
        raise DataQualityError(
            f"the table checks read {seen:,} rows of a snapshot of {expected_rows:,} "
            f"(pipelines/quality/table_checks.py: a file not matched to its log entry)"
        )


def _key_groups(connection: Any, check: Check, largest: Sequence[str]) -> pa.Table:
    """One row: the counts of a key check (``elements``, ``missing``, ``unexpected`` and
    ``nulls_<i>`` per key column) and the largest value of each of ``largest``, from one scan
    that groups the rows by the key (missing values group together: they compare equal for
    GX)."""
    keys = [identifier(c) for c in check.kwargs["column_list"]]
    listed = ", ".join(keys)
    all_missing = " AND ".join(f"{k} IS NULL" for k in keys)
    nulls = "".join(
        f", coalesce(sum(n) FILTER (WHERE {k} IS NULL), 0) AS nulls_{i}" for i, k in enumerate(keys)
    )
    per_group = "".join(f", max({identifier(c)}) AS _max_{i}" for i, c in enumerate(largest))
    overall = "".join(f", max(_max_{i}) AS {identifier(c)}" for i, c in enumerate(largest))
    return _arrow(
        connection,
        f"SELECT coalesce(sum(n), 0) AS elements,"
        f" coalesce(sum(n) FILTER (WHERE {all_missing}), 0) AS missing,"
        f" coalesce(sum(n) FILTER (WHERE n > 1 AND NOT ({all_missing})), 0) AS unexpected"
        f"{nulls}{overall}"
        f" FROM (SELECT {listed}, count(*) AS n{per_group} FROM {_ROWS} GROUP BY {listed})",
    )


def _arrow(connection: Any, query: str) -> pa.Table:
    """The one-row result of ``query`` as Arrow (the types GX's frame is made from)."""
    table: pa.Table = connection.sql(query).to_arrow_table()
    return table


def _unique(
    connection: Any, check: Check, counts: pa.Table, time_column: str, ordered: bool
) -> tuple[Check, bool, dict[str, Any]]:
    element_count = int(counts.column("elements")[0].as_py())
    missing_count = int(counts.column("missing")[0].as_py())
    unexpected_count = int(counts.column("unexpected")[0].as_py())
    sample: list[dict[Hashable, Any]] = []
    if unexpected_count:
        null_counts = [
            int(counts.column(f"nulls_{i}")[0].as_py())
            for i in range(len(check.kwargs["column_list"]))
        ]
        sample = _sample(connection, check, time_column, ordered, null_counts)
    counted = element_count - missing_count
    result = {
        "element_count": element_count,
        "unexpected_count": unexpected_count,
        "unexpected_percent": unexpected_count / counted * 100 if counted else None,
        "partial_unexpected_list": sample,
        "missing_count": missing_count,
    }
    return check, unexpected_count == 0, result


def _sample(
    connection: Any, check: Check, time_column: str, ordered: bool, null_counts: list[int]
) -> list[dict[Hashable, Any]]:
    """The first rows of repeated keys in table order: by each row's place where the view has
    it, else as one thread scans the dataset."""
    keys = [identifier(c) for c in check.kwargs["column_list"]]
    listed = ", ".join(keys)
    repeated = (
        f"SELECT {listed} FROM {_ROWS} WHERE NOT ({' AND '.join(f'{k} IS NULL' for k in keys)}) "
        f"GROUP BY {listed} HAVING count(*) > 1"
    )
    same_key = " AND ".join(f"r.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    if ordered:
        order = f"ORDER BY r.{_FILE}, r.{_ROW} "
    else:
        order = ""
        connection.execute("SET threads = 1")
    rows = _arrow(
        connection,
        f"SELECT {', '.join(f'r.{k}' for k in keys)} FROM {_ROWS} AS r "
        f"SEMI JOIN ({repeated}) AS d ON {same_key} {order}LIMIT {SAMPLE_ROWS}",
    )
    # pandas holds a whole integer column that has a missing value as floats: so GX did.
    with_nulls = [c for c, n in zip(check.kwargs["column_list"], null_counts, strict=True) if n]
    sampled: list[dict[Hashable, Any]] = _frame(
        _floats_where(rows, with_nulls), time_column
    ).to_dict("records")
    return sampled


def _column_max(
    check: Check, maxima: pa.Table, time_column: str
) -> tuple[Check, bool, dict[str, Any]]:
    column = str(check.kwargs["column"])
    observed = _frame(maxima.select([column]), time_column)[column].iloc[0]
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
