"""Gold: every gold table, built together by one Spark pass of the gold step.

One multi-asset with a spec per table (lineage per table: OHLCV from silver prices, features
from the daily bars, on-chain and macro joined to the daily bars, sentiment days from news, the
market analytics from the daily bars, on-chain and macro tables). A
partition (fetch day) rebuilds the days the silver rows fetched that day are about, through the
latest day (``steps.gold_days_after``), so a backfill of any partitions, in one run or many,
leaves the same tables.
"""

from collections.abc import Iterator

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project import freshness
from dagster_project.assets.results import Materialization
from dagster_project.assets.silver import silver_key
from dagster_project.partitions import SINGLE_RUN, partition_days
from dagster_project.resources import LakehouseResource
from pipelines import steps
from pipelines.contracts.gold import (
    FEATURES_DAILY,
    GOLD_TABLES,
    MACRO_ASOF,
    MARKET_DAILY,
    OHLCV_TABLES,
    ONCHAIN_DAILY,
    SENTIMENT_DAILY,
    GoldTable,
)

GROUP = "gold"
DAILY_BARS = OHLCV_TABLES["1d"]


def gold_key(table: GoldTable) -> dg.AssetKey:
    return dg.AssetKey(["gold", table.name])


#: What each gold table is computed from (docs/data-model.md, section Gold).
GOLD_INPUTS: dict[str, list[dg.AssetKey]] = {
    **{table.name: [silver_key("prices")] for table in OHLCV_TABLES.values()},
    FEATURES_DAILY.name: [gold_key(DAILY_BARS), silver_key("prices")],
    ONCHAIN_DAILY.name: [silver_key("onchain"), silver_key("transfers"), gold_key(DAILY_BARS)],
    MACRO_ASOF.name: [silver_key("economic"), gold_key(DAILY_BARS)],
    SENTIMENT_DAILY.name: [silver_key("news")],
    MARKET_DAILY.name: [gold_key(DAILY_BARS), gold_key(ONCHAIN_DAILY), gold_key(MACRO_ASOF)],
}


def gold_assets(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            gold_key(table),
            deps=GOLD_INPUTS[table.name],
            group_name=GROUP,
            freshness_policy=freshness.DAILY,
            kinds={"spark", "delta"},
            description=f"gold/{table.name}, unique by ({', '.join(table.key)})",
        )
        for table in GOLD_TABLES
    ]

    @dg.multi_asset(
        name="gold",
        specs=specs,
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        can_subset=False,
    )
    def gold(context: AssetExecutionContext, lake: LakehouseResource) -> Iterator[Materialization]:
        fetched = partition_days(context)
        days = steps.gold_days_after(lake.lakehouse, fetched)
        if days is None:
            context.log.info(f"no silver rows were fetched on {fetched}: gold is unchanged")
            report = None
        else:
            report = steps.run_gold(lake.lakehouse, (days.first, days.last))
        for table in GOLD_TABLES:
            metadata = lake.table_metadata(lake.lakehouse.paths.gold(table.name))
            metadata["fetch_days"] = str(fetched)
            metadata["gold_days"] = str(days) if days is not None else "none"
            if report is not None:
                metadata["rows_written"] = report.rows.get(table.name, 0)
                metadata["duration_s"] = round(report.seconds, 2)
                if table.name in report.skipped:
                    metadata["skipped"] = report.skipped[table.name]
            yield dg.MaterializeResult(asset_key=gold_key(table), metadata=metadata)

    return gold
