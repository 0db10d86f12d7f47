"""Silver: one asset per dataset, each the keyed Delta table the silver job MERGEs into.

A partition (fetch day) reprocesses every bronze object fetched that day with the silver job's
backfill mode (``steps.run_silver(..., backfill=days)``): the same parsers, quality gate,
quarantine and reconciliation ledger as the stream, and the same resulting table however the
days are grouped into runs. Each materialization reports the Great Expectations gate as the
blocking ``quality_gate`` check, and the bronze objects quarantined whole as the
``quarantined_objects`` warning (see :mod:`dagster_project.checks`).
"""

from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project import freshness
from dagster_project.assets.bronze import bronze_key
from dagster_project.assets.results import Materialization, delta_table_metadata
from dagster_project.checks import (
    freshness_result,
    quality_gate_result,
    quarantined_objects_result,
    silver_check_specs,
)
from dagster_project.partitions import fetch_day_asset, partition_days
from dagster_project.resources import LakeResource, SparkResource, pipeline_settings
from pipelines import steps
from pipelines.core.errors import DataQualityError
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.reference import load_assets
from pipelines.silver.registry import SILVER_DATASETS, dataset_spec

GROUP = "silver"


def silver_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["silver", dataset])


def feeding_sources(dataset: str) -> list[str]:
    """The sources with a silver parser for ``dataset`` (its bronze inputs)."""
    return sorted({parser.source for parser in dataset_spec(dataset, load_assets()).parsers})


def silver_asset(dataset: str, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = silver_key(dataset)

    @dg.asset(
        key=key,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.SILVER),
        deps=[bronze_key(source) for source in feeding_sources(dataset)],
        check_specs=silver_check_specs(key),
        kinds={"spark", "delta"},
        description=f"silver/{dataset}: parsed, validated, deduplicated {dataset} records "
        "(refusals in silver/quarantine, counts in silver/reconciliation)",
    )
    def _silver(
        context: AssetExecutionContext, lake: LakeResource, spark: SparkResource
    ) -> Materialization:
        settings = pipeline_settings(lake, spark)
        days = partition_days(context)
        try:
            report = steps.run_silver(settings, dataset, backfill=days)
        except DataQualityError as error:
            # The batch was refused and nothing of it merged: report the table as it stands and
            # fail the blocking check, so nothing downstream runs on this partition.
            context.log.error(str(error))
            table_results = steps.check_silver_table(settings, dataset)
            return dg.MaterializeResult(
                metadata=_table_metadata(settings, dataset) | {"fetch_days": str(days)},
                check_results=[
                    quality_gate_result(str(error), {}, table_results),
                    _objects_check(settings, dataset),
                    freshness_result(table_results),
                ],
            )
        return dg.MaterializeResult(
            metadata=_table_metadata(settings, dataset)
            | {
                "fetch_days": str(days),
                "bronze_lines": report.bronze_lines,
                "records_in": report.records_in,
                "inserted": report.inserted,
                "updated": report.updated,
                "duplicates_removed": report.duplicates_removed,
                "quarantined": report.quarantined,
                "objects_quarantined_whole": len(report.quarantined_objects),
                "micro_batches": report.batches,
                "columns_added": ", ".join(report.columns_added) or "none",
                "duration_s": round(report.seconds, 2),
            },
            check_results=[
                quality_gate_result(None, report.failed_expectations, report.table_results),
                _objects_check(settings, dataset),
                freshness_result(report.table_results),
            ],
        )

    return _silver


def _objects_check(settings: Settings, dataset: str) -> dg.AssetCheckResult:
    return quarantined_objects_result(steps.quarantined_objects(settings).rows(dataset))


def _table_metadata(settings: Settings, dataset: str) -> dict[str, Any]:
    return delta_table_metadata(
        DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake).silver(dataset)
    )


def silver_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [silver_asset(dataset, partitions) for dataset in SILVER_DATASETS]
