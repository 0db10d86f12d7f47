"""The one way a gold run writes its tables (declared in :mod:`pipelines.contracts.gold`).

A full run replaces a table's contents (a new Delta version; older ones stay readable by time
travel). A range run replaces exactly the rows of the range's days (``replaceWhere``), so a
backfill of some days leaves every other day as it was. ``gold/sentiment_daily`` is the
exception: it is merged (see :mod:`pipelines.gold.sentiment`), to keep the scores the sentiment
job filled in.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from pipelines.contracts.gold import GoldTable
from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake


def replace_days(
    lake: DeltaLake, df: DataFrame, uri: str, table: GoldTable, days: DayRange | None
) -> int:
    """Write ``df`` as the table's rows for ``days`` (every day: the whole table when None);
    returns the rows written. ``df`` must hold only rows of those days."""
    ordered = df.orderBy(*table.key)
    if days is None:
        return lake.overwrite(ordered, uri, partition_by=table.partition_by)
    return lake.overwrite_where(
        ordered, uri, predicate=days.predicate(), partition_by=table.partition_by
    )
