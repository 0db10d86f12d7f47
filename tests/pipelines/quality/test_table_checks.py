"""The whole-table checks as DuckDB aggregates agree with Great Expectations' pandas engine
(the reference): the stored result of every check on tables of every silver dataset, with
duplicate keys (more than the sample holds, interleaved), rows whose key is all missing or
partly missing, no rows, a time column with no value, stale and fresh tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable, write_deltalake

from pipelines.contracts.silver import ECONOMIC, NEWS, ONCHAIN, PRICES, TRANSFERS
from pipelines.core.errors import DataQualityError
from pipelines.quality.results import make_result
from pipelines.quality.suites import suite_for, table_checks
from pipelines.quality.table_checks import (
    SnapshotFiles,
    as_instants,
    run_table_checks,
    snapshot_files,
    table_columns,
)
from pipelines.quality.validator import silver_validator

CONTRACTS = {c.name: c for c in (PRICES, ONCHAIN, ECONOMIC, NEWS, TRANSFERS)}
NOW = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 1)


def _value(kind: pa.DataType, i: int) -> Any:
    if pa.types.is_date(kind):
        return DAY - dt.timedelta(days=i % 3)
    if pa.types.is_timestamp(kind):
        return dt.datetime(2026, 3, 1, tzinfo=dt.UTC) - dt.timedelta(hours=i)
    if pa.types.is_integer(kind):
        return i
    return f"v{i}"


def _rows(dataset: str, keys: list[int | None], *, time_missing: bool = False) -> pa.Table:
    """One row per entry: the key columns from the entry (None: every key column missing);
    other columns null."""
    schema = CONTRACTS[dataset].schema
    suite = suite_for(dataset)
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for entry in keys:
        for field in schema:
            keyed = field.name in suite.key
            timed = field.name == suite.time_column and not time_missing
            if entry is not None and (keyed or timed):
                columns[field.name].append(_value(field.type, entry))
            else:
                columns[field.name].append(None)
    return pa.table(columns, schema=schema)


def _partly_missing(dataset: str) -> pa.Table:
    """Two rows with the same key, one key column missing in both, and one more row."""
    table = _rows(dataset, [7, 7, 8])
    name = suite_for(dataset).key[-1]
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, pa.nulls(3, table.schema.field(index).type))


CASES = {
    "unique": lambda d: _rows(d, [1, 2, 3]),
    "duplicates": lambda d: _rows(d, [1, 2, 1, 3, 4, 3, 1, 5, 4, 6, 2]),
    "missing keys": lambda d: _rows(d, [None, 1, None, 1, 2]),
    "partly missing": _partly_missing,
    "empty": lambda d: _rows(d, []),
    "no time": lambda d: _rows(d, [1, 2], time_missing=True),
}


def _stored(dataset: str, verdicts: list[tuple[Any, bool, dict[str, Any]]]) -> list[Any]:
    return [
        make_result(
            check,
            result,
            success=success,
            run_id="r",
            dataset=dataset,
            batch_id=None,
            suite="s",
            validated_at=NOW,
        )
        for check, success, result in verdicts
    ]


def _gx(dataset: str, table: pa.Table, checks: Any) -> list[Any]:
    """What GX said when the table came to the driver whole (the former way)."""
    columns = list(dict.fromkeys([*suite_for(dataset).key, suite_for(dataset).time_column]))
    frame = as_instants(table.select(columns), suite_for(dataset).time_column).to_pandas(
        date_as_object=False, ignore_metadata=True
    )
    verdicts = silver_validator().validate_table(dataset, frame, checks)
    return _stored(dataset, [(v.check, v.success, v.result) for v in verdicts])


@pytest.mark.parametrize("dataset", sorted(CONTRACTS))
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("freshness_hours", [12.0, 10_000.0])
def test_duckdb_table_checks_agree_with_gx(dataset: str, case: str, freshness_hours: float):
    table = CASES[case](dataset)
    suite = suite_for(dataset)
    checks = table_checks(suite, now=NOW, freshness_hours=freshness_hours)
    ours = run_table_checks(pads.dataset(table), checks, suite.time_column)
    assert _stored(dataset, ours) == _gx(dataset, table, checks)


def test_a_delta_table_is_read_in_batches_and_agrees(tmp_path):
    """Through a partitioned Delta table of several files, as delta-rs's Arrow dataset and as
    its files for DuckDB's Parquet reader (the way the gate reads it)."""
    uri = str(tmp_path / "prices")
    for part in ([1, 2, 3], [3, 4], [5, 6, 1]):
        write_deltalake(uri, _rows("prices", part), partition_by=["date"], mode="append")
    table = DeltaTable(uri)
    suite = suite_for("prices")
    checks = table_checks(suite, now=NOW, freshness_hours=24)
    files = snapshot_files(table)
    assert isinstance(files, SnapshotFiles)
    whole = table.to_pyarrow_dataset().to_table()
    for rows in (table.to_pyarrow_dataset(), files):
        ours = run_table_checks(rows, checks, suite.time_column)
        assert _stored("prices", ours) == _gx("prices", whole, checks)
        assert ours[0][2]["unexpected_count"] == 4


@pytest.mark.parametrize("dataset", sorted(CONTRACTS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_delta_tables_files_agree_with_gx(tmp_path, dataset: str, case: str):
    """Every case through a Delta table written in three commits (the rows spread over files
    and partitions), read by DuckDB's Parquet reader with the partition values of the log:
    the same results, samples in table order included, as GX on the whole table."""
    rows = CASES[case](dataset)
    uri = str(tmp_path / dataset)
    partitions = list(CONTRACTS[dataset].partition_by)
    for start in range(3):
        part = rows.take(pa.array(range(start, rows.num_rows, 3), pa.int64()))
        write_deltalake(uri, part, partition_by=partitions, mode="append")
    table = DeltaTable(uri)
    suite = suite_for(dataset)
    checks = table_checks(suite, now=NOW, freshness_hours=24)
    files = snapshot_files(table)
    assert isinstance(files, SnapshotFiles) == (rows.num_rows > 0)
    ours = run_table_checks(files, checks, suite.time_column)
    whole = table.to_pyarrow_dataset().to_table()
    assert _stored(dataset, ours) == _gx(dataset, whole, checks)


def test_a_file_the_checks_cannot_match_to_its_log_entry_fails_them(tmp_path):
    """The files are joined to their partition values by path: were a path written otherwise
    by DuckDB, its rows would drop out and the checks pass on part of the table. The rows read
    are compared with the log's count instead."""
    uri = str(tmp_path / "prices")
    for part in ([1, 2], [3, 4]):
        write_deltalake(uri, _rows("prices", part), partition_by=["date"], mode="append")
    files = snapshot_files(DeltaTable(uri))
    assert isinstance(files, SnapshotFiles) and files.rows == 4
    suite = suite_for("prices")
    checks = table_checks(suite, now=NOW, freshness_hours=24)
    assert run_table_checks(files, checks, suite.time_column)[0][2]["element_count"] == 4
    # The log counting a row the join did not give (a file dropped out of it).
    short = SnapshotFiles(files.files, files.schema, 5)
    with pytest.raises(DataQualityError, match="read 4 rows of a snapshot of 5"):
        run_table_checks(short, checks, suite.time_column)


def test_a_snapshot_that_needs_delta_rs_is_read_through_its_dataset(tmp_path):
    """Column mapping renames a file's columns (and deletion vectors, which delta-rs does not
    read yet, hide some of its rows): a snapshot whose reader protocol is above 1 would be read
    wrong by DuckDB's Parquet reader, so the checks read delta-rs's dataset."""
    uri = str(tmp_path / "prices")
    write_deltalake(
        uri,
        _rows("prices", [1, 2, 1]),
        partition_by=["date"],
        configuration={"delta.columnMapping.mode": "name"},
    )
    table = DeltaTable(uri)
    files = snapshot_files(table)
    assert isinstance(files, pads.Dataset)
    suite = suite_for("prices")
    checks = table_checks(suite, now=NOW, freshness_hours=24)
    ours = run_table_checks(files, checks, suite.time_column)
    assert _stored("prices", ours) == _gx("prices", files.to_table(), checks)


def test_reads_only_the_checked_columns():
    suite = suite_for("transfers")
    checks = table_checks(suite, now=NOW, freshness_hours=24)
    assert table_columns(checks) == [*suite.key, suite.time_column]
