"""The gold tables (names, keys, partitioning) and the one way a gold run writes them.

A full run replaces a table's contents (a new Delta version; older ones stay readable by time
travel). A range run replaces exactly the rows of the range's days (``replaceWhere``), so a
backfill of some days leaves every other day as it was. ``gold/sentiment_daily`` is the
exception: it is merged (see :mod:`pipelines.gold.sentiment`), to keep the scores the sentiment
job filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame

from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake


@dataclass(frozen=True, slots=True)
class GoldTable:
    """One gold Delta table: ``gold/<name>``, unique by ``key``."""

    name: str
    key: tuple[str, ...]
    #: Intraday tables hold many rows per day: one folder per day keeps a range rewrite to the
    #: files of those days. Daily tables are small and stay in a few files.
    partition_by: tuple[str, ...] = ()


#: Served OHLCV resolutions, finest first.
OHLCV_RESOLUTIONS: tuple[str, ...] = ("1m", "5m", "1h", "1d")

OHLCV_TABLES: dict[str, GoldTable] = {
    res: GoldTable(f"ohlcv_{res}", ("asset_id", "ts"), () if res == "1d" else ("date",))
    for res in OHLCV_RESOLUTIONS
}
FEATURES_DAILY = GoldTable("features_daily", ("asset_id", "date"))
ONCHAIN_DAILY = GoldTable("onchain_daily", ("asset_id", "date"))
MACRO_ASOF = GoldTable("macro_asof", ("asset_id", "date", "series_id", "region"))
SENTIMENT_DAILY = GoldTable("sentiment_daily", ("asset_id", "date"))

#: Every gold table, in the order a run builds them (later ones read the daily OHLCV).
GOLD_TABLES: tuple[GoldTable, ...] = (
    *OHLCV_TABLES.values(),
    FEATURES_DAILY,
    ONCHAIN_DAILY,
    MACRO_ASOF,
    SENTIMENT_DAILY,
)


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
