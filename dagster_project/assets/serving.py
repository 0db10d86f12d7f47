"""Serving: the gold tables (and economic series) upserted into the serving store; then, in the
``alerts`` group, what follows a load (price updates, every active alert rule evaluated)."""

import dagster as dg

from dagster_project import freshness
from dagster_project.assets.gold import gold_key
from dagster_project.assets.ml import FORECASTS_KEY, RISK_KEY, SENTIMENT_KEY, SIGNALS_KEY
from dagster_project.assets.results import Materialization
from dagster_project.partitions import fetch_day_asset
from dagster_project.resources import ServingStoreResource
from pipelines.contracts.gold import GOLD_TABLES

GROUP = "serving"
SERVING_KEY = dg.AssetKey(["serving", "store"])
ALERTS_GROUP = "alerts"
ALERTS_KEY = dg.AssetKey(["alerts", "evaluation"])


def serving_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=SERVING_KEY,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        deps=[
            *(gold_key(table) for table in GOLD_TABLES),
            FORECASTS_KEY,
            SENTIMENT_KEY,
            RISK_KEY,
            SIGNALS_KEY,
        ],
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


def alerts_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=ALERTS_KEY,
        group_name=ALERTS_GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        deps=[SERVING_KEY],
        kinds={"sql"},
        description="price_update events for the assets the load changed and portfolio_update "
        "events for the portfolios whose value they changed, then every active alert rule "
        "evaluated on the served data (firings stored, notified and pushed)",
    )
    def alerts_evaluation(serving: ServingStoreResource) -> Materialization:
        report = serving.after_load()
        evaluation = report.evaluation
        return dg.MaterializeResult(
            metadata={
                "rules": evaluation.rules,
                "pairs": evaluation.pairs,
                "fired": len(evaluation.fired),
                "skipped_rules": dg.MetadataValue.json(evaluation.skipped_rules),
                "price_updates": report.price_updates,
                "portfolio_updates": report.portfolio_updates,
                "seconds": dg.MetadataValue.json(evaluation.seconds),
            }
        )

    return alerts_evaluation
