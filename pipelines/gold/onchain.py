"""``gold/onchain_daily``: one row per asset-day, the on-chain sources combined.

Silver holds one row per asset, day and source, each source publishing what it has. Gold takes,
metric by metric, the non-null value of the most recently fetched source (ties: the larger
source name, so the result never depends on row order), then derives the net exchange flow and
the premium of the market close (``gold/ohlcv_1d``) over the published NAV.

The token flows of the day's Transfer logs (:mod:`pipelines.gold.flows`) join them: minted,
burned, net flow and the tokens moved, in tokens and in USD at the day's NAV (else its close).
The logs also give ``holders``, ``transfer_count`` and ``transfer_volume_usd`` where no metrics
feed reports them: a feed counts the token's whole history, the logs only what was read.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.contracts.gold import ONCHAIN_COLUMNS
from pipelines.contracts.measures import COUNT_METRICS, FLOW_TOKEN_METRICS, ONCHAIN_METRICS

#: Metrics of ``silver/onchain`` carried to gold, with their gold types (counts stay integers).
METRIC_TYPES: dict[str, str] = {
    metric: "long" if metric in COUNT_METRICS else "double" for metric in ONCHAIN_METRICS
}
#: Measures both a metrics feed and the logs give: the feed's value wins.
_SHARED = ("holders", "transfer_count")


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


def onchain_daily(
    silver: DataFrame | None, daily_bars: DataFrame, flows: DataFrame | None = None
) -> DataFrame:
    """Gold on-chain rows of the asset-days in ``silver`` and ``flows`` (either may be absent,
    not both), with ``daily_bars``' close."""
    closes = daily_bars.select("asset_id", "date", "close")
    combined = _with_flows(silver, flows)
    nav = F.col("nav_usd")
    price = F.coalesce(nav, F.col("close"))
    return (
        combined.join(closes, ["asset_id", "date"], "left")
        .withColumn(
            "net_exchange_flow_usd", F.col("exchange_inflow_usd") - F.col("exchange_outflow_usd")
        )
        .withColumn("premium_to_nav", F.when(nav > 0, F.try_divide(F.col("close"), nav) - 1))
        .withColumn(
            "transfer_volume_usd",
            F.coalesce(F.col("transfer_volume_usd"), F.col("transfer_volume") * price),
        )
        .withColumns({f"{m}_usd": F.col(m) * price for m in ("minted", "burned", "net_flow")})
        .select(*ONCHAIN_COLUMNS)
    )


def _with_flows(silver: DataFrame | None, flows: DataFrame | None) -> DataFrame:
    """The feed's combined metrics full-outer-joined with the flows of the logs."""
    if silver is None and flows is None:
        raise ValueError("onchain_daily needs silver/onchain or silver/transfers")
    if flows is None:
        return combine_sources(silver).withColumns(  # type: ignore[arg-type]
            {m: F.lit(None).cast("double") for m in FLOW_TOKEN_METRICS}
        )
    renamed = flows.select(
        "asset_id",
        "date",
        *FLOW_TOKEN_METRICS,
        *(F.col(m).alias(f"log_{m}") for m in _SHARED),
        "flow_sources",
    )
    if silver is None:
        feed_sources: Column = F.array().cast("array<string>")
        joined = renamed.withColumns(
            {m: F.lit(None).cast(METRIC_TYPES[m]) for m in ONCHAIN_METRICS}
        ).withColumn("sources", feed_sources)
    else:
        joined = combine_sources(silver).join(renamed, ["asset_id", "date"], "full")
    empty = F.array().cast("array<string>")
    return joined.withColumns(
        {m: F.coalesce(F.col(m), F.col(f"log_{m}")) for m in _SHARED}
        | {
            "sources": F.array_sort(
                F.array_union(F.coalesce("sources", empty), F.coalesce("flow_sources", empty))
            )
        }
    )
