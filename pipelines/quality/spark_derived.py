"""The derived columns of :mod:`pipelines.quality.derived`, as Spark expressions.

Same values as the pandas versions the GX gate uses (the agreement tests compare both), computed
on the executors: row-local columns are plain expressions; the previous NAV is a window over the
batch and a small silver history DataFrame (:func:`read_nav_history`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines.lake.delta import DeltaLake
from pipelines.quality import derived
from pipelines.quality.derived import NAV_COLUMNS
from pipelines.quality.spark_rules import WHITESPACE_CLASS
from pipelines.quality.suites import CLOCK_SKEW, DatasetSuite

_NAV_SERIES = ("asset_id", "source")
_MICROS_PER_DAY = 86_400_000_000
#: Helper columns of the NAV window (dropped before the frame is returned).
_IN_BATCH, _POSITION, _NAV = "_quality_in_batch", "_quality_position", "_quality_nav"


def fetched_at_limit(_: Mapping[str, str]) -> Column:
    return F.col("fetched_at") + F.expr(f"INTERVAL {int(CLOCK_SKEW.total_seconds())} SECONDS")


def fetched_date(_: Mapping[str, str]) -> Column:
    """The UTC date of fetched_at, whatever the session's time zone."""
    days = F.floor(F.unix_micros(F.col("fetched_at")) / _MICROS_PER_DAY).cast("int")
    return F.date_from_unix_date(days)


def url_or_outlet(_: Mapping[str, str]) -> Column:
    """url, else outlet; text that Python's ``str.strip()`` empties counts as missing."""
    has_text = f"[^{WHITESPACE_CLASS}]"
    url, outlet = F.col("url"), F.col("outlet")
    return F.when(url.rlike(has_text), url).when(outlet.rlike(has_text), outlet)


def asset_class(classes: Mapping[str, str]) -> Column:
    """The asset's class from the reference data (null for an unknown or null asset)."""
    if not classes:
        return F.lit(None).cast("string")
    pairs = [F.lit(part) for item in sorted(classes.items()) for part in item]
    return F.try_element_at(F.create_map(*pairs), F.col("asset_id"))


_ROW_LOCAL: Mapping[str, Callable[[Mapping[str, str]], Column]] = {
    "fetched_at_limit": fetched_at_limit,
    "fetched_date": fetched_date,
    "url_or_outlet": url_or_outlet,
    "asset_class": asset_class,
}


def with_derived_columns(
    suite: DatasetSuite,
    rows: DataFrame,
    *,
    asset_classes: Mapping[str, str],
    nav_history: DataFrame | None,
) -> DataFrame:
    """``rows`` plus the suite's derived columns (the row-local ones in one projection)."""
    local = {n: _ROW_LOCAL[n](asset_classes) for n in suite.derived if n in _ROW_LOCAL}
    framed = rows.withColumns(local) if local else rows
    if "nav_change" in suite.derived:
        framed = with_nav_change(framed, nav_history)
    return framed


def with_nav_change(rows: DataFrame, history: DataFrame | None) -> DataFrame:
    """``rows`` plus ``nav_change``: |nav_usd / previous nav_usd - 1| per (asset_id, source),
    the previous being the series' preceding present NAV in time among the batch and
    ``history`` (a history row of the same (asset_id, source, ts) as a batch row is replaced
    by it). Null where there is none, or where pandas' arithmetic gives NaN."""
    batch = rows.withColumns({_IN_BATCH: F.lit(True), _POSITION: F.monotonically_increasing_id()})
    if history is not None:
        kept = history.select(*NAV_COLUMNS).join(
            rows.select(*_NAV_SERIES, "ts"), [*_NAV_SERIES, "ts"], "left_anti"
        )
        earlier = kept.withColumns({_IN_BATCH: F.lit(False), _POSITION: F.lit(-1).cast("long")})
        batch = batch.unionByName(earlier, allowMissingColumns=True)
    nav = F.col("nav_usd").cast("double")
    present = F.when(~F.isnan(nav), nav)
    series = (
        Window.partitionBy(*_NAV_SERIES)
        .orderBy(F.col("ts").asc_nulls_last(), F.col(_POSITION))
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    framed = batch.withColumn(_NAV, present).withColumn(
        "nav_change", _relative_change(F.col(_NAV), F.last(_NAV, ignorenulls=True).over(series))
    )
    return framed.where(F.col(_IN_BATCH)).drop(_IN_BATCH, _POSITION, _NAV)


def _relative_change(nav: Column, previous: Column) -> Column:
    """|nav / previous - 1| as numpy computes it (x/0 = inf, 0/0 = NaN), NaN as null: Spark
    under ANSI raises on a division by zero, so that case is spelled out."""
    # A missing NAV stays missing (``nav == 0`` is null there, and otherwise() would give inf).
    change = F.when(previous == 0, F.when(nav != 0, F.lit(float("inf")))).otherwise(
        F.abs(nav / previous - 1)
    )
    return F.when(~F.isnan(change), change)


def read_nav_history(
    spark: SparkSession,
    lake: DeltaLake,
    onchain_uri: str,
    first_day: dt.date,
    last_day: dt.date,
) -> DataFrame | None:
    """:func:`pipelines.quality.derived.read_nav_history` as a small Spark DataFrame."""
    table = derived.read_nav_history(lake, onchain_uri, first_day, last_day)
    return None if table is None else spark.createDataFrame(table)
