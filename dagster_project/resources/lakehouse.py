"""The lakehouse the assets, checks and sensors work on: the lake, its paths, object store,
asset catalogue and Spark session, built once per deployment (:mod:`pipelines.lakehouse`)."""

# No ``from __future__ import annotations``: Dagster reads the ResourceDependency annotation
# at class creation and needs the type itself, not its name.
from typing import Any

import dagster as dg

from pipelines import steps
from pipelines.lakehouse import Lakehouse


class LakehouseResource(dg.ConfigurableResource["LakehouseResource"]):
    """The deployment's :class:`~pipelines.lakehouse.Lakehouse`, which every step takes. Where
    the lake lives is the settings' choice (``RWA_LAKE_ROOT``, ``RWA_STATE_DIR``); S3
    credentials come from the ``RWA_AWS_*`` variables or the default AWS credential chain."""

    lakehouse: dg.ResourceDependency[Lakehouse]

    def table_metadata(self, uri: str) -> dict[str, Any]:
        """Where a Delta table is, its version and row count (0 rows while it does not exist),
        as asset metadata."""
        summary = steps.table_summary(self.lakehouse, uri)
        metadata: dict[str, Any] = {"path": dg.MetadataValue.path(uri)}
        if summary.version is not None:
            metadata["delta_version"] = summary.version
        return metadata | {"rows": summary.rows}
