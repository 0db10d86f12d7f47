"""``gold/onchain_daily``: one row per asset-day, the on-chain sources combined.

Silver holds one row per asset, day and source, each source publishing what it has. Gold takes,
metric by metric, the non-null value of the most recently fetched source (ties: the larger
source name, so the result never depends on row order), then derives the net exchange flow and
the premium of the market close (``gold/ohlcv_1d``) over the published NAV.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.contracts.gold import ONCHAIN_COLUMNS
from pipelines.contracts.measures import COUNT_METRICS, ONCHAIN_METRICS

#: Metrics of ``silver/onchain`` carried to gold, with their gold types (counts stay integers).
METRIC_TYPES: dict[str, str] = {
    metric: "long" if metric in COUNT_METRICS else "double" for metric in ONCHAIN_METRICS
}


def latest_non_null(metric: str) -> Column:
    """The metric from the latest-fetched row that has it (rows without it do not compete)."""
    freshness = F.when(F.col(metric).isNotNull(), F.struct("fetched_at", "source"))
    return F.max_by(F.col(metric), freshness).cast(METRIC_TYPES[metric]).alias(metric)


def combine_sources(silver: DataFrame) -> DataFrame:
    """One row per asset-day; ``sources`` lists the sources that reported that day."""
    return silver.groupBy("asset_id", "date").agg(
        *(latest_non_null(metric) for metric in ONCHAIN_METRICS),
        F.array_sort(F.collect_set("source")).alias("sources"),
    )


def onchain_daily(silver: DataFrame, daily_bars: DataFrame) -> DataFrame:
    """Gold on-chain rows of the asset-days in ``silver``, with ``daily_bars``' close."""
    closes = daily_bars.select("asset_id", "date", "close")
    nav = F.col("nav_usd")
    return (
        combine_sources(silver)
        .join(closes, ["asset_id", "date"], "left")
        .withColumn(
            "net_exchange_flow_usd", F.col("exchange_inflow_usd") - F.col("exchange_outflow_usd")
        )
        .withColumn("premium_to_nav", F.when(nav > 0, F.try_divide(F.col("close"), nav) - 1))
        .select(*ONCHAIN_COLUMNS)
    )
