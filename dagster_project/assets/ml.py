"""ML outputs, downstream of gold: risk scores (forecasts and sentiment join as they land).

``ml/risk_scores`` scores every reference asset as of the latest daily bar after the partition's
gold rebuild, into ``gold/risk_scores``; the serving load carries it to the API. Its check
``every_asset_scored`` verifies that each reference asset got a score in 1-100.
"""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project import freshness
from dagster_project.assets.gold import gold_key
from dagster_project.assets.results import Materialization, delta_table_metadata
from dagster_project.partitions import SINGLE_RUN
from dagster_project.resources import LakeResource, pipeline_settings
from models.risk.engine import MODEL_VERSION
from models.risk.job import RISK_TABLE
from pipelines import jobs
from pipelines.gold.tables import FEATURES_DAILY, OHLCV_TABLES, ONCHAIN_DAILY
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.reference import load_assets

GROUP = "ml"
RISK_KEY = dg.AssetKey(["ml", "risk_scores"])
EVERY_ASSET_SCORED = "every_asset_scored"


def risk_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=RISK_KEY,
        group_name=GROUP,
        freshness_policy=freshness.DAILY,
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        deps=[gold_key(OHLCV_TABLES["1d"]), gold_key(FEATURES_DAILY), gold_key(ONCHAIN_DAILY)],
        check_specs=[dg.AssetCheckSpec(EVERY_ASSET_SCORED, asset=RISK_KEY)],
        kinds={"python", "delta"},
        description="Composite risk 1-100 with market, credit, regulatory and technical "
        "sub-scores per reference asset (docs/risk.md), in gold/risk_scores",
    )
    def risk_scores(context: AssetExecutionContext, lake: LakeResource) -> Materialization:
        settings = pipeline_settings(lake)
        report = jobs.run_risk(settings)
        expected = {asset.asset_id for asset in load_assets()}
        scored = {s.asset_id for s in report.scores if 1 <= s.composite <= 100}
        context.log.info(f"scored {len(scored)} assets as of {report.as_of}")
        uri = LakePaths(settings).gold(RISK_TABLE)
        return Materialization(
            metadata=delta_table_metadata(DeltaLake(settings), uri)
            | {
                "as_of": report.as_of.isoformat(),
                "model_version": MODEL_VERSION,
                "assets_scored": len(report.scores),
                "without_prices": ", ".join(report.without_prices) or "none",
                "composite_by_asset": dg.MetadataValue.json(
                    {s.asset_id: s.composite for s in report.scores}
                ),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=EVERY_ASSET_SCORED,
                    passed=scored == expected,
                    metadata={"missing": sorted(expected - scored)},
                )
            ],
        )

    return risk_scores
