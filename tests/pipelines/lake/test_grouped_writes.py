"""A replace of a partitioned table with more partitions than one delta-rs write may hold open
(``RWA_DELTA_PARTITIONS_PER_WRITE``): written in groups, committed as one transaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession

from pipelines.gold.tables import sorted_for_write
from pipelines.lake import delta as delta_module
from pipelines.lake.delta import GROUPED_WRITE_PREFIX, DeltaLake, _in_partitions, spark_batches
from pipelines.lake.paths import LakePaths
from tests.fixtures.lake import MakeSettings

DAYS = 7
SCHEMA = pa.schema(
    {"date": pa.date32(), "asset_id": pa.string(), "value": pa.float64()}  # type: ignore[arg-type]
)


def _frame(spark: SparkSession, rows: pa.Table) -> DataFrame:
    values = [tuple(row.values()) for row in rows.to_pylist()]
    return spark.createDataFrame(values, "date date, asset_id string, value double")


def _rows(scale: float) -> pa.Table:
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=d) for d in range(DAYS)] + [None]
    rows = [
        {"date": day, "asset_id": f"a{k}", "value": k * scale} for day in days for k in range(3)
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _sorted(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: (str(r["date"]), r["asset_id"]))


def test_a_replace_in_groups_is_one_commit_of_every_row(
    make_settings: MakeSettings, spark: SparkSession
) -> None:
    settings = make_settings(delta_partitions_per_write=3)
    lake = DeltaLake(settings.lake, settings.spark)
    uri = LakePaths(settings.lake).gold("grouped")
    first, second = _rows(1.0), _rows(2.0).slice(3)  # the second lacks a day

    written = lake.overwrite(
        _frame(spark, first),
        uri,
        partition_by=("date",),
        metadata={"run": "one"},
    )
    assert written == first.num_rows
    assert _sorted(lake.to_arrow(uri)) == _sorted(first)
    created = lake.table(uri).version()

    lake.overwrite(_frame(spark, second), uri, partition_by=("date",))
    table = lake.table(uri)
    # One commit replaced every row: no version holds some groups only.
    assert table.version() == created + 1
    assert _sorted(lake.to_arrow(uri)) == _sorted(second)
    assert _sorted(lake.to_arrow(uri, as_of=created)) == _sorted(first)
    assert table.history(1)[0]["operation"] == "WRITE"
    # The files sit in the table's partition folders, the groups' folders are gone; Spark
    # reads the table with its partition column.
    assert all(Path(name).parent.parent == Path(uri) for name in table.file_uris())
    assert not list(Path(uri).glob(f"{GROUPED_WRITE_PREFIX}*"))
    back = lake.to_spark(spark, uri).toPandas()
    assert sorted(back.columns) == ["asset_id", "date", "value"]
    assert len(back) == second.num_rows
    assert back["date"].isna().sum() == 3


def test_few_partitions_are_written_in_one_write(
    make_settings: MakeSettings, spark: SparkSession
) -> None:
    settings = make_settings(delta_partitions_per_write=DAYS + 1)
    lake = DeltaLake(settings.lake, settings.spark)
    uri = LakePaths(settings.lake).gold("single")
    rows = _rows(1.0)
    lake.overwrite(_frame(spark, rows), uri, partition_by=("date",))
    assert _sorted(lake.to_arrow(uri)) == _sorted(rows)
    assert not any(GROUPED_WRITE_PREFIX in name for name in lake.table(uri).file_uris())


def test_a_change_of_partitioning_replaces_the_table_in_one_write(
    make_settings: MakeSettings, spark: SparkSession
) -> None:
    """A grouped commit would keep the old partition columns: a repartitioned rebuild with many
    partitions takes the single write, which replaces them."""
    settings = make_settings(delta_partitions_per_write=3)
    lake = DeltaLake(settings.lake, settings.spark)
    uri = LakePaths(settings.lake).gold("repartitioned")
    lake.overwrite(_frame(spark, _rows(1.0)), uri, partition_by=("asset_id",))
    rows = _rows(2.0)
    lake.overwrite(_frame(spark, rows), uri, partition_by=("date",))
    assert lake.table(uri).metadata().partition_columns == ["date"]
    assert _sorted(lake.to_arrow(uri)) == _sorted(rows)


def test_staged_rows_come_in_row_groups_a_group_of_partitions_can_skip(
    make_settings: MakeSettings, spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write in groups scans the staged rows once per group with a filter on its partitions:
    # with the rows sorted by partition, row groups of a bounded size let each scan skip the
    # row groups of other partitions (one row group of the whole table decoded it every time).
    monkeypatch.setattr(delta_module, "STAGED_ROW_GROUP_BYTES", 4096)
    rows = pa.Table.from_pylist(
        [
            {"date": dt.date(2026, 1, 1) + dt.timedelta(days=d), "asset_id": f"a{k}", "value": k}
            for d in range(DAYS)
            for k in range(300)
        ],
        schema=SCHEMA,
    )
    day = dt.date(2026, 1, 3)
    settings = make_settings()
    lake = DeltaLake(settings.lake, settings.spark)
    ordered = sorted_for_write(lake, _frame(spark, rows), ("asset_id",), ("date",))
    with spark_batches(ordered) as staged:
        (file,) = staged.files
        groups = pq.ParquetFile(file).metadata.num_row_groups
        where = _in_partitions(("date",), [(day,)])
        (fragment,) = pads.dataset(file, format="parquet").get_fragments()
        scanned = fragment.subset(where).num_row_groups
        one_day = staged.stream(where).read_all()
    assert groups > 1
    assert scanned < groups  # the day's rows lie in a few row groups; the others are skipped
    assert one_day.num_rows == 300
