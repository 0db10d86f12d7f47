"""``gold/macro_asof``: the macro series as known on each calendar day, per asset.

For every asset and every calendar day from its first to its last gold daily bar, each series
that applies to the asset contributes the observation a reader could have seen that day: the
latest (by ``observation_date``) of the non-null observations with ``observation_date <= day``
and ``realtime_start <= day``. No look-ahead: a value published late (``realtime_start`` after
its observation date) is invisible until it is published, and until then the previous
observation stands. Null observations (FRED's ``.`` on holidays) are skipped, so a holiday keeps
the last known value.

Which series apply: US series (region ``USA`` from any source but the World Bank: FRED, or the
simulated FRED) to every asset; World Bank series, and any other country's series, to the
assets whose reference ``jurisdiction`` is that country (:func:`jurisdiction_country`).

Silver keeps one vintage per observation (the latest fetch), so a revised value carries the
revision's ``realtime_start``: before it, the as-of view falls back to the previous observation
rather than the first-published value (true vintages would need the vintage history in silver).

How: each observation becomes known on ``greatest(observation_date, realtime_start)``; a running
maximum over those dates gives, per series, the answer from each such date until the next, and
those intervals are expanded to the days the run needs and joined on day (an equi-join, so the
cost grows with assets x days x series, not with the length of each series).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from pipelines.contracts.reference import Asset
from pipelines.ingestion.worldbank import JURISDICTION_ISO3, WorldBankSource
from pipelines.lake.days import DayRange, restrict

#: Region of the series that apply to every asset (dollar rates and inflation).
MARKET_WIDE_REGION = "USA"

MACRO_COLUMNS = (
    "asset_id",
    "date",
    "series_id",
    "region",
    "value",
    "observation_date",
    "realtime_start",
    "frequency",
    "units",
)
_SERIES = ("series_id", "region")


def jurisdiction_country(jurisdiction: str | None) -> str | None:
    """ISO 3166 alpha-3 of a reference ``jurisdiction`` ("United States (Delaware)" -> USA);
    None for decentralised protocols and jurisdictions the mapping does not know. The mapping is
    the World Bank connector's, so gold looks up exactly the countries that are fetched."""
    if jurisdiction is None:
        return None
    for name, iso3 in JURISDICTION_ISO3.items():
        if jurisdiction.startswith(name):
            return iso3
    return None


def asset_countries(spark: SparkSession, assets: Iterable[Asset]) -> DataFrame:
    """``asset_id, country`` of the reference assets (country null where unknown)."""
    schema = StructType(
        [StructField("asset_id", StringType(), False), StructField("country", StringType())]
    )
    rows = [(asset.asset_id, jurisdiction_country(asset.jurisdiction)) for asset in assets]
    return spark.createDataFrame(rows, schema)


def asset_days(daily_bars: DataFrame, days: DayRange | None) -> DataFrame:
    """``asset_id, date``: every calendar day from the asset's first to last daily bar (pass all
    of ``gold/ohlcv_1d``), limited to ``days``."""
    spans = daily_bars.groupBy("asset_id").agg(
        F.min("date").alias("first"), F.max("date").alias("last")
    )
    every_day = spans.select("asset_id", F.explode(F.sequence("first", "last")).alias("date"))
    return restrict(every_day, days)


def widen_over_gaps(daily_bars: DataFrame, days: DayRange) -> DayRange:
    """The days a range run must rewrite so that it builds what a full run would: ``days``,
    widened to fill every asset's gap between its last bar before ``days`` and its first bar
    after them. (Those days join the asset's span only once bars exist on both sides of them:
    a range run that adds the bars after a weekend also owes the weekend's rows.)"""
    before = F.max(F.when(F.col("date") < days.first, F.col("date")))
    after = F.min(F.when(F.col("date") > days.last, F.col("date")))
    per_asset = daily_bars.groupBy("asset_id").agg(before.alias("before"), after.alias("after"))
    edges = per_asset.agg(F.min("before").alias("before"), F.max("after").alias("after")).first()
    first, last = days.first, days.last
    if edges is not None and edges["before"] is not None:
        first = min(first, edges["before"] + dt.timedelta(days=1))
    if edges is not None and edges["after"] is not None:
        last = max(last, edges["after"] - dt.timedelta(days=1))
    return DayRange(first, last)


def known_intervals(economic: DataFrame) -> DataFrame:
    """Per series, the observation known from ``known`` until the day before ``next_known``
    (null: still current), as ``obs`` (a struct of the observation's fields)."""
    observation = F.struct("observation_date", "value", "realtime_start", "frequency", "units")
    by_known = (
        economic.where(F.col("value").isNotNull())
        .withColumn("known", F.greatest("observation_date", "realtime_start"))
        .withColumn("scope", series_scope())
        .groupBy(*_SERIES, "scope", "known")
        .agg(F.max(observation).alias("obs"))
    )
    series = Window.partitionBy(*_SERIES).orderBy("known")
    seen_so_far = series.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return by_known.select(
        *_SERIES,
        "scope",
        "known",
        F.lead("known").over(series).alias("next_known"),
        F.max("obs").over(seen_so_far).alias("obs"),
    )


def series_scope() -> Column:
    """``market`` for series that apply to every asset, ``country`` for the others."""
    world_bank = F.col("source") == WorldBankSource.name
    market = (F.col("region") == MARKET_WIDE_REGION) & ~world_bank
    return F.when(market, F.lit("market")).otherwise(F.lit("country"))


def macro_asof(
    economic: DataFrame, daily_bars: DataFrame, countries: DataFrame, days: DayRange | None
) -> DataFrame:
    """The ``gold/macro_asof`` rows of ``days`` (every day of every asset's span when None)."""
    wanted = asset_days(daily_bars, days).join(countries, "asset_id", "left")
    bounds = wanted.agg(F.min("date").alias("lo"), F.max("date").alias("hi"))
    intervals = known_intervals(economic).crossJoin(bounds)
    start = F.greatest("known", "lo")
    end = F.least(F.coalesce(F.date_sub("next_known", 1), F.col("hi")), F.col("hi"))
    per_day = intervals.where(start <= end).select(
        *_SERIES, "scope", "obs", F.explode(F.sequence(start, end)).alias("date")
    )
    applies = (F.col("scope") == "market") | (F.col("region") == F.col("country"))
    return (
        wanted.join(per_day, "date")
        .where(applies)
        .select(
            "asset_id",
            "date",
            *_SERIES,
            *(F.col(f"obs.{name}").alias(name) for name in MACRO_COLUMNS[4:]),
        )
    )
