"""What the assets return: materialization results and the metadata of a Delta table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from pipelines.lake.delta import DeltaLake

if TYPE_CHECKING:
    Materialization = dg.MaterializeResult[None]
else:
    # Dagster inspects return annotations at run time and only knows the bare class.
    Materialization = dg.MaterializeResult


def delta_table_metadata(lake: DeltaLake, uri: str) -> dict[str, Any]:
    """Where a Delta table is, its version and row count (0 rows while it does not exist)."""
    if not lake.exists(uri):
        return {"path": dg.MetadataValue.path(uri), "rows": 0}
    return {
        "path": dg.MetadataValue.path(uri),
        "delta_version": lake.table(uri).version(),
        "rows": lake.count_rows(uri),
    }
