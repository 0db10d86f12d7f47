"""Delta table maintenance: compaction, checkpoints and vacuum, for every table of the lake.

Streaming writes leave many small files (one or more per micro-batch and partition) and a
long transaction log. ``rwa maintain`` keeps readers fast and storage bounded:

1. **Compact** (``OPTIMIZE``): rewrite small files of each partition into files of about
   ``RWA_MAINTAIN_TARGET_FILE_MB``. Rows and the table's contents are unchanged; the removed
   files stay on storage, so earlier versions remain readable.
2. **Checkpoint**: write a Parquet checkpoint of the log, so opening the table reads one file
   instead of replaying every JSON commit, then expire log entries older than the table's log
   retention (``delta.logRetentionDuration``, 30 days by default).
3. **Vacuum**: delete files that no version younger than ``RWA_MAINTAIN_VACUUM_RETENTION_HOURS``
   (default 7 days) still references. Time travel works inside that window and fails clearly
   (:class:`~pipelines.core.errors.NotFoundError`) for versions whose files are gone.

Every step is idempotent: running maintenance twice in a row changes nothing the second time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipelines.core.settings import LakeSettings, MaintenanceSettings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import ObjectStore, open_object_store

LAYERS = ("silver", "gold")
_DELTA_LOG = "/_delta_log/"


@dataclass(frozen=True, slots=True)
class TableMaintenance:
    """What maintenance did to one table."""

    uri: str
    version_before: int
    version_after: int
    files_before: int
    files_after: int
    files_compacted: int
    files_written: int
    files_vacuumed: int
    rows: int
    seconds: float


@dataclass
class MaintenanceReport:
    tables: list[TableMaintenance] = field(default_factory=list)
    dry_run: bool = False
    retention_hours: int = 0

    @property
    def files_vacuumed(self) -> int:
        return sum(t.files_vacuumed for t in self.tables)

    @property
    def files_compacted(self) -> int:
        return sum(t.files_compacted for t in self.tables)


def delta_table_names(store: ObjectStore, layers: Iterable[str] = LAYERS) -> list[str]:
    """``<layer>/<table>`` of every Delta table under the given layers (a folder with a
    ``_delta_log``), sorted."""
    names: set[str] = set()
    for layer in layers:
        for key in store.list(f"{layer}/"):
            if _DELTA_LOG in key:
                names.add(key.split(_DELTA_LOG, 1)[0])
    return sorted(names)


class LakeMaintenance:
    """Runs the three maintenance steps on Delta tables of one lake."""

    def __init__(
        self, lake: LakeSettings, maintenance: MaintenanceSettings, delta: DeltaLake | None = None
    ) -> None:
        self.lake_settings = lake
        self.maintenance = maintenance
        # Compaction, checkpoints and vacuum are delta-rs operations whatever the write engine.
        self.lake = delta or DeltaLake(lake)

    def table_uris(self) -> list[str]:
        names = delta_table_names(open_object_store(self.lake_settings))
        return [self.lake_settings.uri(*name.split("/")) for name in names]

    def run(
        self,
        uris: Iterable[str] | None = None,
        *,
        retention_hours: int | None = None,
        dry_run: bool = False,
    ) -> MaintenanceReport:
        """Maintain ``uris`` (default: every silver and gold table). ``dry_run`` compacts and
        checkpoints nothing and only reports what vacuum would delete."""
        hours = (
            self.maintenance.vacuum_retention_hours if retention_hours is None else retention_hours
        )
        report = MaintenanceReport(dry_run=dry_run, retention_hours=hours)
        for uri in self.table_uris() if uris is None else uris:
            report.tables.append(self.maintain_table(uri, retention_hours=hours, dry_run=dry_run))
        return report

    def maintain_table(
        self, uri: str, *, retention_hours: int, dry_run: bool = False
    ) -> TableMaintenance:
        started = time.perf_counter()
        table = self.lake.table(uri)
        version_before = table.version()
        files_before = len(table.file_uris())
        compacted = written = 0
        if not dry_run:
            metrics = table.optimize.compact(
                target_size=self.maintenance.target_file_mb * 1024 * 1024
            )
            compacted = int(metrics.get("numFilesRemoved", 0))
            written = int(metrics.get("numFilesAdded", 0))
            table = self.lake.table(uri)
            table.create_checkpoint()
            table.cleanup_metadata()
        vacuumed = table.vacuum(
            retention_hours=retention_hours,
            dry_run=dry_run,
            # The 7-day default guards readers of old versions; a shorter window is an
            # explicit operator choice (``--retention-hours``), so it is honoured.
            enforce_retention_duration=False,
        )
        table = self.lake.table(uri)
        return TableMaintenance(
            uri=uri,
            version_before=version_before,
            version_after=table.version(),
            files_before=files_before,
            files_after=len(table.file_uris()),
            files_compacted=compacted,
            files_written=written,
            files_vacuumed=len(vacuumed),
            rows=int(table.to_pyarrow_dataset().count_rows()),
            seconds=time.perf_counter() - started,
        )


def maintain_lake(
    lake: LakeSettings,
    maintenance: MaintenanceSettings,
    *,
    retention_hours: int | None = None,
    dry_run: bool = False,
) -> MaintenanceReport:
    """Compact, checkpoint and vacuum every silver and gold Delta table (``rwa maintain``)."""
    return LakeMaintenance(lake, maintenance).run(retention_hours=retention_hours, dry_run=dry_run)
