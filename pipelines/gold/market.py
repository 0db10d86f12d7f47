"""``gold/market_daily``: the market analytics of every asset-day (docs/api.md, "Market
analytics"; columns in docs/data-model.md).

Inputs are gold tables already written by the run, read whole: ``gold/ohlcv_1d`` (the close),
``gold/onchain_daily`` (supply, NAV, holders, transfers and, once the Transfer-log flows are
there, mints and burns) and ``gold/macro_asof`` (the 3-month T-bill as known each day).

How:

1. The observed asset-days (a close, an on-chain row, or both) are put on a calendar: every day
   from the asset's first observation to the last day of the data (any asset's).
2. Stocks (price, NAV, supply, holders) carry their last non-null value forward, each with the
   day it was observed (``*_as_of``); flows (transfers, mints, burns) stay on their own day.
3. Values: market value = supply x price, asset value = supply x NAV, ``value_usd`` the asset
   value where there is a NAV, else the market value; premium = price / NAV - 1.
4. Yield of the classes in :data:`ACCUMULATING_CLASSES`: the NAV (else the price) now and 7
   calendar rows before, annualised over the days between their as-of days.
5. ``as_of`` is the oldest as-of day of the stocks known; the row is ``stale`` when it lies more
   than :data:`STALE_AFTER_DAYS` days before the row's day (or nothing is known at all).
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame, SparkSession, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from pipelines.contracts.gold import MARKET_COLUMNS
from pipelines.contracts.measures import (
    ACCUMULATING_CLASSES,
    MARKET_FLOW_MEASURES,
    STALE_AFTER_DAYS,
    TBILL_SERIES,
)
from pipelines.contracts.reference import Asset

#: Calendar days the yield looks back over.
YIELD_DAYS = 7
#: Fewest days between the two values a yield is annualised from: closer ones (a NAV carried
#: over most of the week) would blow noise up into an absurd rate.
MIN_YIELD_SPAN_DAYS = 4
#: Stocks carried forward: the market_daily name -> the column observed.
CARRIED = {"price": "price_usd", "nav": "nav_usd", "supply": "total_supply", "holders": "holders"}


def _by_day() -> WindowSpec:
    """An asset's rows in day order (made on use: a window needs a running Spark session)."""
    return Window.partitionBy("asset_id").orderBy("date")


def _so_far() -> WindowSpec:
    return _by_day().rowsBetween(Window.unboundedPreceding, Window.currentRow)


def asset_classes(spark: SparkSession, assets: Iterable[Asset]) -> DataFrame:
    """``asset_id, asset_class`` of the reference assets."""
    schema = StructType(
        [StructField("asset_id", StringType(), False), StructField("asset_class", StringType())]
    )
    return spark.createDataFrame([(a.asset_id, a.asset_class) for a in assets], schema)


def observations(daily_bars: DataFrame, onchain: DataFrame) -> DataFrame:
    """One row per asset-day with a close or an on-chain row: the observed stocks and flows.
    Flow columns the on-chain table lacks (written before the Transfer-log flows) are null."""
    closes = daily_bars.select("asset_id", "date", F.col("close").alias("price_usd"))
    flows = [
        (F.col(name) if name in onchain.columns else F.lit(None))
        .cast("long" if name == "transfer_count" else "double")
        .alias(name)
        for name in MARKET_FLOW_MEASURES
    ]
    chain = onchain.select(
        "asset_id",
        "date",
        F.col("nav_usd").cast("double"),
        F.col("total_supply").cast("double"),
        F.col("holders").cast("long"),
        *flows,
    )
    return closes.join(chain, ["asset_id", "date"], "full")


def calendar(observed: DataFrame) -> DataFrame:
    """Every day from each asset's first observation to the last day any asset has."""
    last = observed.agg(F.max("date").alias("last"))
    spans = observed.groupBy("asset_id").agg(F.min("date").alias("first")).crossJoin(last)
    days = spans.select("asset_id", F.explode(F.sequence("first", "last")).alias("date"))
    return days.join(observed, ["asset_id", "date"], "left")


def carry_stocks(days: DataFrame) -> DataFrame:
    """Each stock's last non-null value so far and the day it was observed."""
    for short, column in CARRIED.items():
        seen = F.when(F.col(column).isNotNull(), F.col("date"))
        days = days.withColumn(f"{short}_as_of", F.last(seen, ignorenulls=True).over(_so_far()))
        days = days.withColumn(column, F.last(column, ignorenulls=True).over(_so_far()))
    return days


def _finite(value: Column) -> Column:
    """``value``, or null where it is NaN or infinite (a served number is always finite)."""
    bad = F.isnan(value) | (F.abs(value) == F.lit(float("inf")))
    return F.when(~bad, value)


def _annualised(now: str, now_as_of: str) -> Column:
    """(v_t / v_s)^(365 / span) - 1 of the value ``now`` against itself 7 rows before."""
    before = F.lag(now, YIELD_DAYS).over(_by_day())
    span = F.datediff(F.col(now_as_of), F.lag(now_as_of, YIELD_DAYS).over(_by_day()))
    growth = F.try_divide(F.col(now), before)
    rate = F.pow(growth, F.lit(365.0) / span) - 1
    return F.when((span >= MIN_YIELD_SPAN_DAYS) & (before > 0), _finite(rate))


def with_yield(days: DataFrame) -> DataFrame:
    """``yield_7d`` and ``yield_method`` of the accumulating classes: NAV growth where the NAV
    gives one, else price growth."""
    accumulating = F.coalesce(F.col("asset_class").isin(*ACCUMULATING_CLASSES), F.lit(False))
    by_nav, by_price = _annualised("nav_usd", "nav_as_of"), _annualised("price_usd", "price_as_of")
    days = days.withColumn("_nav_yield", by_nav).withColumn("_price_yield", by_price)
    method = (
        F.when(~accumulating, F.lit(None))
        .when(F.col("_nav_yield").isNotNull(), F.lit("nav"))
        .when(F.col("_price_yield").isNotNull(), F.lit("price"))
    )
    value = F.when(F.col("yield_method") == "nav", F.col("_nav_yield")).when(
        F.col("yield_method") == "price", F.col("_price_yield")
    )
    return (
        days.withColumn("yield_method", method.cast("string"))
        .withColumn("yield_7d", value)
        .drop("_nav_yield", "_price_yield")
    )


def tbill_per_day(macro: DataFrame | None) -> DataFrame | None:
    """``date, tbill_3m``: the T-bill rate as a fraction, as known each day (the as-of view
    gives every asset the same market-wide value; one per day is taken)."""
    if macro is None:
        return None
    series_id, region = TBILL_SERIES
    rows = macro.where((F.col("series_id") == series_id) & (F.col("region") == region))
    return rows.groupBy("date").agg((F.max("value") / 100).alias("tbill_3m"))


def with_values(days: DataFrame) -> DataFrame:
    """Values, premium, spread, as-of and staleness."""
    supply, price, nav = F.col("total_supply"), F.col("price_usd"), F.col("nav_usd")
    as_of = F.least(*(F.col(f"{short}_as_of") for short in CARRIED))
    late = F.datediff(F.col("date"), F.col("as_of")) > STALE_AFTER_DAYS
    return (
        days.withColumn("market_value_usd", supply * price)
        .withColumn("asset_value_usd", supply * nav)
        .withColumn("value_usd", F.coalesce("asset_value_usd", "market_value_usd"))
        .withColumn("premium_to_nav", F.when(nav > 0, F.try_divide(price, nav) - 1))
        .withColumn("yield_spread", F.col("yield_7d") - F.col("tbill_3m"))
        .withColumn("utilization", F.lit(None).cast("double"))
        .withColumn("as_of", as_of)
        .withColumn("stale", F.coalesce(late, F.lit(True)))
    )


def market_daily(
    daily_bars: DataFrame, onchain: DataFrame, macro: DataFrame | None, classes: DataFrame
) -> DataFrame:
    """The ``gold/market_daily`` rows of every asset-day (restrict them to a run's days)."""
    days = carry_stocks(calendar(observations(daily_bars, onchain)))
    days = with_yield(days.join(classes, "asset_id", "left"))
    tbill = tbill_per_day(macro)
    if tbill is None:
        days = days.withColumn("tbill_3m", F.lit(None).cast("double"))
    else:
        days = days.join(tbill, "date", "left")
    return with_values(days).select(*MARKET_COLUMNS)
