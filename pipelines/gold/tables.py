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


def sorted_for_write(
    lake: DeltaLake, df: DataFrame, key: tuple[str, ...], partition_by: tuple[str, ...] = ()
) -> DataFrame:
    """``df`` sorted by ``key`` within each partition of ``partition_by``, as a gold table is
    written. The partition columns come first: each partition's file holds its rows in the
    order of ``key`` all the same, and a driver-side write in groups of partitions (see
    ``DeltaLake.overwrite``) then finds a group's rows in a few row groups of the staged rows
    rather than in all of them. delta-spark writes from the executors: a global sort
    (``orderBy``), whose range partitioning first samples ``df`` in a job of its own, which runs
    ``df``'s last stage (the table's aggregations and windows) once more. Without it the driver
    streams the rows to delta-rs one after another anyway, so one sorted partition gives the same
    rows in the same order without that second run."""
    order = [*partition_by, *(column for column in key if column not in partition_by)]
    if lake.native:
        return df.orderBy(*order)
    return df.repartition(1).sortWithinPartitions(*order)


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
    ordered = sorted_for_write(lake, df, table.key, table.partition_by)
    span = None if days is None else (days.first, days.last)
    stamp = None if run_id is None else run_metadata("gold", run_id, span)
    if days is None:
        return lake.overwrite(ordered, uri, partition_by=table.partition_by, metadata=stamp)
    return lake.overwrite_where(
        ordered, uri, predicate=days.predicate(), partition_by=table.partition_by, metadata=stamp
    )
