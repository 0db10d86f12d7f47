"""Reads of each layer that every lineage answer shares: a gold row and the run that wrote it,
silver rows with their bronze references, and the served row."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.contracts.lineage import covers
from pipelines.contracts.reference import Asset
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import ObjectStore
from pipelines.lake.paths import LakePaths
from pipelines.lineage.answer import JobRun, Row, SilverRecord
from pipelines.lineage.bronze import BronzeReader
from pipelines.serving.store import ServingStore

UTC_TS = pa.timestamp("us", tz="UTC")
#: Operations that write rows: an unstamped one of these may be the run behind a row; an
#: OPTIMIZE or VACUUM only moved or removed files.
_WRITES = ("WRITE", "MERGE", "CREATE TABLE", "CREATE OR REPLACE TABLE", "DELETE", "UPDATE")


class Layers:
    """The lake, its bronze objects and the serving store, read for one lineage answer."""

    def __init__(
        self,
        lake: DeltaLake,
        paths: LakePaths,
        objects: ObjectStore,
        store: ServingStore,
        assets: Sequence[Asset],
    ) -> None:
        self.lake = lake
        self.paths = paths
        self.store = store
        self.objects = objects
        self.bronze = BronzeReader(objects)
        self.assets = {asset.asset_id: asset for asset in assets}

    def rows(self, layer: str, name: str, where: ds.Expression) -> list[Row]:
        """Rows of ``layer/name`` matching ``where`` (none when the table does not exist)."""
        uri = self.paths.gold(name) if layer == "gold" else self.paths.silver(name)
        if not self.lake.exists(uri):
            return []
        dataset = self.lake.table(uri).to_pyarrow_dataset()
        rows: list[Row] = dataset.to_table(filter=where).to_pylist()
        return rows

    def job_run(self, name: str, day: dt.date) -> JobRun | None:
        """The newest commit of ``gold/name`` that wrote ``day`` (see
        :mod:`pipelines.contracts.lineage`)."""
        uri = self.paths.gold(name)
        if not self.lake.exists(uri):
            return None
        for commit in self.lake.table(uri).history():
            stamp = _stamp(commit)
            wrote = covers(stamp, day)
            if wrote is False or (wrote is None and commit.get("operation") not in _WRITES):
                continue
            return JobRun(
                table=f"gold/{name}",
                version=int(commit["version"]),
                committed_at=dt.datetime.fromtimestamp(commit["timestamp"] / 1000, dt.UTC),
                operation=str(commit.get("operation")),
                run_id=stamp.get("rwa.run_id"),
                job=stamp.get("rwa.job"),
                days=stamp.get("rwa.days"),
            )
        return None

    def silver_records(self, table: str, rows: list[Row], time_column: str) -> list[SilverRecord]:
        """``rows`` of ``silver/table`` with the bronze line and element of each."""
        return [
            SilverRecord(
                f"silver/{table}",
                row,
                self.bronze.reference(row["bronze_file"], row["ingest_id"], row.get(time_column)),
            )
            for row in rows
        ]

    def served(self, table: pa.Table) -> Row | None:
        """The one row of a served read (None when empty)."""
        rows: list[Row] = table.to_pylist()
        return rows[0] if rows else None


def _stamp(commit: dict[str, Any]) -> dict[str, Any]:
    """A commit's metadata: delta-rs keeps the keys in the commit itself, delta-spark as JSON
    text in ``userMetadata``."""
    stamp = dict(commit)
    user = commit.get("userMetadata")
    if isinstance(user, str):
        try:
            parsed = json.loads(user)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            stamp.update(parsed)
    return stamp


def at(column: str, value: Any, type_: pa.DataType = UTC_TS) -> ds.Expression:
    """``column == value`` as a dataset filter of ``type_``."""
    return pc.field(column) == pa.scalar(value, type_)


def on_day(column: str, day: dt.date) -> ds.Expression:
    """``column == day`` for a ``date32`` column."""
    return at(column, day, pa.date32())


def is_(column: str, value: str) -> ds.Expression:
    """``column == value`` for a text column; cast first, as files rewritten by delta-rs'
    MERGE store text as string_view, which Arrow cannot compare with a string."""
    return pc.field(column).cast(pa.string()) == pa.scalar(value, pa.string())


def day_of(ts: dt.datetime) -> dt.date:
    return ts.astimezone(dt.UTC).date()
