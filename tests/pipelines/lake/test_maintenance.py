"""`rwa maintain`: compaction, checkpoints and vacuum on real Delta tables (local and S3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.core.errors import NotFoundError
from pipelines.core.settings import Settings
from pipelines.lake.delta import BatchTxn, DeltaLake
from pipelines.lake.maintenance import LakeMaintenance, maintain_lake
from pipelines.lake.paths import LakePaths
from tests.fixtures.lake import MakeSettings
from tests.fixtures.s3 import S3Server

BATCHES = 12
ROWS_PER_BATCH = 50


def _batch(index: int) -> pa.Table:
    """Rows of one micro-batch: two days, so every batch adds a file to two partitions."""
    first = index * ROWS_PER_BATCH
    keys = list(range(first, first + ROWS_PER_BATCH))
    return pa.table(
        {
            "date": pa.array([dt.date(2026, 1, 1 + k % 2) for k in keys], pa.date32()),
            "key": pa.array(keys, pa.int64()),
            "value": pa.array([k * 0.5 for k in keys], pa.float64()),
        }
    )


def _streamed_table(settings: Settings, name: str = "events") -> str:
    """A silver table written the way the streaming steps write: one MERGE per batch."""
    lake = DeltaLake(settings.lake, settings.spark)
    uri = LakePaths(settings.lake).silver(name)
    for index in range(BATCHES):
        lake.merge(
            _batch(index),
            uri,
            keys=("date", "key"),
            update_when=None,
            partition_by=("date",),
            txn=BatchTxn("test.events", index),
        )
    return uri


def _sorted(table: pa.Table) -> pa.Table:
    return table.select(["date", "key", "value"]).sort_by("key")


def test_compaction_keeps_rows_and_time_travel_inside_the_window(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    uri = _streamed_table(settings)
    lake = DeltaLake(settings.lake, settings.spark)
    before = _sorted(lake.to_arrow(uri))
    early = _sorted(lake.to_arrow(uri, as_of=2))

    report = maintain_lake(settings.lake, settings.maintenance)

    (table,) = report.tables
    assert table.uri == uri
    assert table.files_before == 2 * BATCHES
    assert table.files_after == 2  # one file per date partition
    assert table.files_compacted == 2 * BATCHES
    assert table.rows == BATCHES * ROWS_PER_BATCH
    assert table.files_vacuumed == 0  # every removed file is younger than 7 days
    assert _sorted(lake.to_arrow(uri)).equals(before)
    # Time travel still reads version 2 (three batches) inside the retention window.
    assert _sorted(lake.to_arrow(uri, as_of=2)).equals(early)
    assert early.num_rows == 3 * ROWS_PER_BATCH
    assert list(Path(uri, "_delta_log").glob("*.checkpoint.parquet"))
    # The app-transaction guard survives compaction and checkpointing.
    assert lake.committed_txn_version(uri, "test.events") == BATCHES - 1

    again = maintain_lake(settings.lake, settings.maintenance)
    assert again.files_compacted == 0
    assert again.tables[0].files_after == 2


def test_vacuum_outside_the_window_removes_old_files_and_old_versions_fail_clearly(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    uri = _streamed_table(settings)
    lake = DeltaLake(settings.lake, settings.spark)
    before = _sorted(lake.to_arrow(uri))

    dry = LakeMaintenance(settings.lake, settings.maintenance).run(retention_hours=0, dry_run=True)
    assert dry.tables[0].files_compacted == 0
    assert dry.tables[0].files_vacuumed == 0  # nothing removed from the log yet
    report = LakeMaintenance(settings.lake, settings.maintenance).run(retention_hours=0)

    assert report.tables[0].files_vacuumed == 2 * BATCHES
    parquet = list(Path(uri).rglob("*.parquet"))
    assert len([p for p in parquet if "_delta_log" not in p.parts]) == 2
    assert _sorted(lake.to_arrow(uri)).equals(before)
    with pytest.raises(NotFoundError, match=r"version 2 of .* is not readable"):
        lake.to_arrow(uri, as_of=2)


def test_every_silver_and_gold_table_is_found_and_bronze_is_left_alone(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    silver = _streamed_table(settings)
    gold = LakePaths(settings.lake).gold("daily")
    DeltaLake(settings.lake, settings.spark).merge(
        _batch(0), gold, keys=("date", "key"), update_when=None
    )
    bronze = Path(settings.lake.root, "bronze", "source=x", "dataset=prices", "part-1.jsonl")
    bronze.parent.mkdir(parents=True)
    bronze.write_text("{}\n")

    report = maintain_lake(settings.lake, settings.maintenance)

    assert [t.uri for t in report.tables] == [gold, silver]
    assert bronze.read_text() == "{}\n"


def test_maintenance_runs_on_an_s3_lake(s3_server: S3Server, make_settings: MakeSettings) -> None:
    settings = make_settings(**s3_server.settings_overrides(s3_server.create_bucket()))
    uri = _streamed_table(settings)
    lake = DeltaLake(settings.lake, settings.spark)
    before = _sorted(lake.to_arrow(uri))

    report = maintain_lake(settings.lake, settings.maintenance, retention_hours=0)

    (table,) = report.tables
    assert (table.files_before, table.files_after) == (2 * BATCHES, 2)
    assert table.files_vacuumed == 2 * BATCHES
    assert _sorted(lake.to_arrow(uri)).equals(before)
