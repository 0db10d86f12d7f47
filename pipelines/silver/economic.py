"""``silver/economic``: one observation of a macro series, per region and vintage-aware.

Its parsers are the sources' (:func:`pipelines.ingestion.registry.dataset_parsers`): FRED
observations (:mod:`pipelines.ingestion.fred.parsers`, for the ``fred`` source and the simulated
one that imitates it) and World Bank indicators (:mod:`pipelines.ingestion.worldbank.parsers`).
"""

from __future__ import annotations

import pyarrow as pa

from pipelines.ingestion.registry import dataset_parsers
from pipelines.silver.spec import DatasetSpec, silver_schema

SCHEMA = silver_schema(
    pa.field("year", pa.int32()),
    pa.field("series_id", pa.string()),
    pa.field("region", pa.string()),
    pa.field("observation_date", pa.date32()),
    pa.field("value", pa.float64()),
    pa.field("frequency", pa.string()),
    pa.field("units", pa.string()),
    pa.field("realtime_start", pa.date32()),
)
KEYS = ("year", "series_id", "region", "observation_date")


def economic_spec() -> DatasetSpec:
    return DatasetSpec(
        name="economic",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("year",),
        parsers=dataset_parsers("economic", ()),
        day_column="observation_date",
    )
