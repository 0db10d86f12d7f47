"""Keyed writes of days the table holds no row of yet: appended, several windows in one commit
(``DeltaLake.append_new_days``), on real Delta tables, with a second writer committing in
between (another process: its own ``DeltaTable``, ``write_deltalake``)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError

from pipelines.lake.delta import APPENDED_ROWS, BatchTxn, DeltaLake, NewDays
from pipelines.lake.paths import LakePaths
from tests.fixtures.lake import MakeSettings

SCHEMA = pa.schema(
    {"date": pa.date32(), "asset_id": pa.string(), "value": pa.float64()}  # type: ignore[arg-type]
)
KEYS = ("date", "asset_id")
DAY0 = dt.date(2026, 1, 1)


def _day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def _rows(first: int, last: int, value: float = 1.0, assets: int = 3) -> pa.Table:
    rows = [
        {"date": _day(d), "asset_id": f"a{k}", "value": value}
        for d in range(first, last + 1)
        for k in range(assets)
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _window(
    first: int, last: int, *, before: Callable[[], None] | None = None, version: int = 0
) -> NewDays:
    """Days ``first..last`` under app id ``w<first>``; ``before`` runs when its rows are read
    (after the check of the table, before the commit)."""

    def rows() -> pa.RecordBatchReader:
        if before is not None:
            before()
        return _rows(first, last).to_reader()

    return NewDays(BatchTxn(f"w{first}", version), _day(first), _day(last), rows)


def _append(lake: DeltaLake, uri: str, windows: list[NewDays]) -> dict[str, int]:
    return lake.append_new_days(
        windows, uri, day_column="date", partition_by=("date",), schema=SCHEMA
    )


def _append_as(uri: str, rows: pa.Table, txn: BatchTxn) -> None:
    """Another writer's append of ``rows`` carrying ``txn``."""
    commit = CommitProperties(
        app_transactions=[Transaction(app_id=txn.app_id, version=txn.version)]
    )
    write_deltalake(uri, rows, mode="append", commit_properties=commit)


def _files_on_disk(uri: str) -> set[str]:
    return {str(path) for path in Path(uri).rglob("*.parquet")}


def _committed_files(table: DeltaTable) -> set[str]:
    return {file.removeprefix("file://") for file in table.file_uris()}


def _duplicate_keys(uri: str) -> list[tuple[object, ...]]:
    rows = DeltaTable(uri).to_pyarrow_table().to_pylist()
    counts = Counter(tuple(row[k] for k in KEYS) for row in rows)
    return [key for key, n in counts.items() if n > 1]


@pytest.fixture
def lake_and_uri(make_settings: MakeSettings) -> tuple[DeltaLake, str]:
    """A lake and a table at ``uri`` whose day 9 only holds rows (three)."""
    settings = make_settings(delta_partitions_per_write=2)
    uri = LakePaths(settings.lake).silver("prices")
    write_deltalake(uri, _rows(9, 9), partition_by=["date"])
    return DeltaLake(settings.lake), uri


def test_new_days_are_appended_in_one_commit_carrying_every_window_s_transaction(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    lake, uri = lake_and_uri
    write_deltalake(uri, _rows(0, 1), mode="append")  # days 0 and 1 hold rows

    appended = _append(lake, uri, [_window(0, 1), _window(2, 3), _window(4, 4)])

    # Days 0-1 hold rows: that window is left to the MERGE.
    assert appended == {"w2": 6, "w4": 3}
    table = DeltaTable(uri)
    assert table.version() == 2
    assert (table.transaction_version("w2"), table.transaction_version("w4")) == (0, 0)
    assert table.transaction_version("w0") is None
    (commit,) = table.history(1)
    assert commit["operation"] == "WRITE"
    assert json.loads(commit[APPENDED_ROWS]) == {"w2": 6, "w4": 3}
    assert table.to_pyarrow_table().num_rows == 3 + 6 + 9
    assert not _duplicate_keys(uri)
    # No group folder is left beside the table's partitions.
    assert sorted(p.name for p in Path(uri).iterdir() if not p.name.startswith("date=")) == [
        "_delta_log"
    ]


def test_a_replayed_window_is_not_appended_again(lake_and_uri: tuple[DeltaLake, str]) -> None:
    lake, uri = lake_and_uri
    assert _append(lake, uri, [_window(0, 1)]) == {"w0": 6}
    # The same window again: its transaction is in the table (and its days hold rows).
    assert _append(lake, uri, [_window(0, 1)]) == {}
    # Under a transaction of its own, a day with rows is still never appended to.
    write_deltalake(uri, _rows(5, 5), mode="append")
    assert _append(lake, uri, [_window(5, 6, version=1)]) == {}
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 3 + 9
    assert not _duplicate_keys(uri)


def test_a_table_of_other_types_is_left_to_the_merge(lake_and_uri: tuple[DeltaLake, str]) -> None:
    """Adopted files keep the rows' types: rows typed unlike the table (a contract changed
    without a migration) are not appended (a file typed unlike its table fails every reader)
    but left to the MERGE, which casts them or fails."""
    lake, existing = lake_and_uri
    uri = f"{existing}-narrow"
    narrower = pa.schema({"date": pa.date32(), "asset_id": pa.string(), "value": pa.float32()})  # type: ignore[arg-type]
    write_deltalake(uri, _rows(9, 9).cast(narrower), partition_by=["date"])
    assert _append(lake, uri, [_window(0, 1)]) == {}
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 3


def test_a_missing_table_is_created_and_every_window_appended(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    lake, existing = lake_and_uri
    uri = f"{existing}-new"
    assert _append(lake, uri, [_window(0, 1), _window(2, 2)]) == {"w0": 6, "w2": 3}
    table = DeltaTable(uri)
    assert table.metadata().partition_columns == ["date"]
    assert table.to_pyarrow_table().num_rows == 9


def test_rows_another_writer_commits_into_the_days_between_the_check_and_the_commit_win(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    """Another process commits rows of day 2 after the days were judged new, before the
    append's commit: the commit fails on the newer version, the window of day 2 is given back
    to the MERGE (its files deleted) and the others are committed; no key is twice in the
    table."""
    lake, uri = lake_and_uri

    def other_writer() -> None:
        write_deltalake(uri, _rows(2, 2, value=7.0), mode="append")

    appended = _append(lake, uri, [_window(0, 1), _window(2, 3, before=other_writer)])

    assert appended == {"w0": 6}
    table = DeltaTable(uri)
    assert table.transaction_version("w2") is None
    assert not _duplicate_keys(uri)
    assert table.to_pyarrow_table().num_rows == 3 + 3 + 6
    # The given-back window's files were deleted: only committed files are on disk.
    assert _files_on_disk(uri) == _committed_files(table)


def _disk_full() -> None:
    raise OSError("disk full")


def test_a_write_that_fails_half_way_leaves_no_file_behind(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    lake, uri = lake_and_uri
    with pytest.raises(OSError, match="disk full"):
        _append(lake, uri, [_window(0, 1), _window(2, 3, before=_disk_full)])
    table = DeltaTable(uri)
    assert table.version() == 0
    assert _files_on_disk(uri) == _committed_files(table)


def test_a_commit_elsewhere_in_between_only_makes_the_append_commit_again(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    lake, uri = lake_and_uri

    def other_writer() -> None:
        write_deltalake(uri, _rows(8, 8), mode="append")  # days of no window

    assert _append(lake, uri, [_window(0, 1, before=other_writer)]) == {"w0": 6}
    assert DeltaTable(uri).version() == 2
    assert not _duplicate_keys(uri)


def test_the_same_transaction_committed_in_between_is_not_appended_twice(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    """A replay of the batch in another process commits it first: this one backs off."""
    lake, uri = lake_and_uri

    def replay() -> None:
        _append_as(uri, _rows(0, 1), BatchTxn("w0", 0))

    assert _append(lake, uri, [_window(0, 1, before=replay)]) == {}
    assert not _duplicate_keys(uri)


def test_a_merge_that_read_before_the_append_conflicts_with_it(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    """The other order: a writer's MERGE read the table before the append committed rows into
    its days; its commit must fail rather than insert the same keys again. (delta-rs marks no
    commit a blind append, so its conflict check reads the appended files; the append's
    soundness depends on it.)"""
    lake, uri = lake_and_uri
    other = DeltaTable(uri)  # read before the append

    assert _append(lake, uri, [_window(2, 2)]) == {"w2": 3}

    source = _rows(2, 2, value=5.0)
    merger = other.merge(
        source,
        predicate="t.date >= '2026-01-03' AND t.date <= '2026-01-03' AND t.asset_id = s.asset_id",
        source_alias="s",
        target_alias="t",
    )
    with pytest.raises(CommitFailedError, match="concurrent"):
        merger.when_not_matched_insert_all().execute()
    assert not _duplicate_keys(uri)


def test_a_kept_table_sees_every_commit_before_a_transaction_check(
    lake_and_uri: tuple[DeltaLake, str],
) -> None:
    lake, uri = lake_and_uri
    with lake.tables_kept_open():
        assert lake.committed_txn_version(uri, "app") is None
        _append_as(uri, _rows(1, 1), BatchTxn("app", 4))  # another process
        assert lake.committed_txn_version(uri, "app") == 4
