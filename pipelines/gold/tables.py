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
from pipelines.contracts.lineage import run_metadata
from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake


def replace_days(
    lake: DeltaLake,
    df: DataFrame,
    uri: str,
    table: GoldTable,
    days: DayRange | None,
    run_id: str | None = None,
) -> int:
    """Write ``df`` as the table's rows for ``days`` (every day: the whole table when None);
    returns the rows written. ``df`` must hold only rows of those days. ``run_id`` stamps the
    commit (:mod:`pipelines.contracts.lineage`), so lineage can name the run behind a row."""
    ordered = df.orderBy(*table.key)
    span = None if days is None else (days.first, days.last)
    stamp = None if run_id is None else run_metadata("gold", run_id, span)
    if days is None:
        return lake.overwrite(ordered, uri, partition_by=table.partition_by, metadata=stamp)
    return lake.overwrite_where(
        ordered, uri, predicate=days.predicate(), partition_by=table.partition_by, metadata=stamp
    )
