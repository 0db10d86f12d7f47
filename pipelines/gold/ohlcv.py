"""Gold OHLCV: silver bars rolled up to the served resolutions (1m, 5m, 1h, 1d), in Spark.

Which silver bars make a bucket: for each asset and UTC day, the finest silver resolution that
tiles the target (not coarser than it, and dividing it evenly: 15m bars make 1h bars, never 5m
ones). So an asset whose silver bars are 1h gets 1h and 1d gold bars and no 1m/5m ones; 1m bars
make every resolution; and on a day with both 1m bars and a coarser fetch of the same hours, the
1m bars win. Choosing per day (not per asset over all history) keeps each day's bars a function
of that day's silver alone, which is what lets a range run rebuild only its days.

A bucket's open is the first bar's open, close the last bar's close, high/low the extremes,
volume the sum, trades the sum of the known trade counts (null when none is known). Buckets
are UTC and every served resolution divides a day, so a bucket never spans two days.

Volume may be unknown (null): some sources publish none (CoinGecko's OHLC endpoint). A bucket's
volume is then unknown as soon as one of its bars' is: a sum of the known volumes only would
understate it, and the liquidity features built on it (dollar volume, Amihud illiquidity) would
report a thin market where the data is merely missing. Trades stay a sum of what is known: they
are informative only, and served nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines.contracts.gold import (
    RESOLUTION_PATTERN,
    UNIT_SECONDS,
    resolution_seconds,
)
from pipelines.core.errors import DataContractError

OHLCV_COLUMNS = (
    "asset_id",
    "resolution",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trades",
    "source_bars",
    "date",
)


def bar_seconds(resolution: Column) -> Column:
    """Spark twin of :func:`resolution_seconds`: null for a resolution not of that form."""
    count = F.regexp_extract(resolution, RESOLUTION_PATTERN, 1)
    unit = F.regexp_extract(resolution, RESOLUTION_PATTERN, 2)
    units = F.create_map(*(F.lit(x) for item in UNIT_SECONDS.items() for x in item))
    return F.when(count != "", count.try_cast("long") * F.try_element_at(units, unit))


def finest_bars(silver: DataFrame, target_seconds: int) -> DataFrame:
    """The silver bars that build ``target_seconds`` buckets: per asset and UTC day, those of
    the finest resolution that tiles the target. Adds ``bar_seconds`` and ``day``."""
    seconds = bar_seconds(F.col("resolution"))
    tiling = silver.withColumn("bar_seconds", seconds).where(
        (F.col("bar_seconds") <= target_seconds) & (target_seconds % F.col("bar_seconds") == 0)
    )
    per_day = Window.partitionBy("asset_id", "day")
    return (
        tiling.withColumn("day", F.to_date("ts"))
        .withColumn("_finest", F.min("bar_seconds").over(per_day))
        .where(F.col("bar_seconds") == F.col("_finest"))
        .drop("_finest")
    )


def bucket_start(ts: Column, seconds: int) -> Column:
    """Start of the UTC bucket of ``seconds`` holding ``ts`` (buckets align to the epoch, so
    to midnight, for every length dividing a day)."""
    return F.timestamp_seconds(F.floor(F.unix_seconds(ts) / seconds) * seconds)


def sorted_sum(column: str, group: Sequence[str]) -> Column:
    """Sum of ``column`` over the rows of ``group``, the values added in ascending order (a
    window over the group sorted by the value: Spark adds a frame's rows in its order), null
    when all are null. A sum of doubles depends on the order rows arrive in, which follows how
    silver's files happen to be laid out, so a backfilled and a streamed silver table would
    otherwise give gold volumes that differ in the last bits. (Sorting a collected list per
    group instead gives the same sums, but an array and a lambda per group made that
    aggregation most of the cost of the hourly bars.)"""
    by_value = Window.partitionBy(*group).orderBy(column)
    return F.sum(column).over(
        by_value.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    )


def can_build(silver_resolutions: Iterable[str], resolution: str) -> bool:
    """Whether any of ``silver_resolutions`` tiles ``resolution`` (the rule of
    :func:`finest_bars`; a resolution not of the ``<count><unit>`` form tiles nothing, as
    :func:`bar_seconds` makes it null). False means :func:`rollup_ohlcv` is empty for any
    silver bars of those resolutions, so a run can skip the Spark jobs that would say so."""
    target = resolution_seconds(resolution)
    for silver in silver_resolutions:
        try:
            seconds = resolution_seconds(silver)
        except DataContractError:
            continue
        if 0 < seconds <= target and target % seconds == 0:
            return True
    return False


def rollup_ohlcv(silver: DataFrame, resolution: str) -> DataFrame:
    """Aggregate silver bars into ``resolution`` buckets (see the module docstring)."""
    seconds = resolution_seconds(resolution)
    # A bucket lies within a UTC day: grouped with their day, the bars stay in the partitions
    # finest_bars shuffled them into (by asset and day), so nothing is shuffled again.
    bucket = ("asset_id", "day", "_bucket")
    bars = (
        finest_bars(silver, seconds)
        .withColumn("_bucket", bucket_start(F.col("ts"), seconds))
        .withColumn("_volume", sorted_sum("volume", bucket))
    )
    # Volume is unknown as soon as one bar's is (the module docstring).
    complete = F.count("volume") == F.count(F.lit(1))
    return (
        bars.groupBy(*bucket)
        .agg(
            F.min_by("open", "ts").alias("open"),
            F.max("high").alias("high"),
            F.min("low").alias("low"),
            F.max_by("close", "ts").alias("close"),
            F.when(complete, F.first("_volume")).alias("volume"),
            F.sum("trades").cast("long").alias("trades"),
            F.count(F.lit(1)).alias("source_bars"),
        )
        .withColumn("ts", F.col("_bucket"))
        .withColumn("resolution", F.lit(resolution))
        .withColumn("date", F.to_date("ts"))
        .select(*OHLCV_COLUMNS)
    )
