"""Serving: the gold tables (and economic series) upserted into the serving store."""

import dagster as dg

from dagster_project import freshness
from dagster_project.assets.gold import gold_key
from dagster_project.assets.ml import FORECASTS_KEY, RISK_KEY, SENTIMENT_KEY
from dagster_project.assets.results import Materialization
from dagster_project.partitions import fetch_day_asset
from dagster_project.resources import ServingStoreResource
from pipelines.contracts.gold import GOLD_TABLES

GROUP = "serving"
SERVING_KEY = dg.AssetKey(["serving", "store"])


def serving_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=SERVING_KEY,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        deps=[*(gold_key(table) for table in GOLD_TABLES), FORECASTS_KEY, SENTIMENT_KEY, RISK_KEY],
        kinds={"sql"},
        description="Reference assets, gold tables and economic series upserted into the "
        "serving store the API reads (idempotent: unchanged rows are not rewritten)",
    )
    def serving_store(serving: ServingStoreResource) -> Materialization:
        report = serving.load()
        return dg.MaterializeResult(
            metadata={
                "backend": serving.backend,
                "rows_loaded": dg.MetadataValue.json(report.gold.rows),
                "table_counts": dg.MetadataValue.json(report.table_counts),
            }
        )

    return serving_store
