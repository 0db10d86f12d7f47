"""Silver: one asset per dataset, each the keyed Delta table the silver step MERGEs into.

A partition (fetch day) reprocesses every bronze object fetched that day with the silver step's
backfill mode (``steps.run_silver_all(..., [dataset], backfill=days)``): the same parsers,
quality gate, quarantine and reconciliation ledger as the stream, and the same resulting table
however the days are grouped into runs. With the DuckDB engine the batches run in the silver
executor process (:mod:`pipelines.silver_run`), so the run's process, which goes on to gold and
the models, does not keep their memory. Each materialization reports the Great Expectations
gate as the blocking ``quality_gate`` check, and the bronze objects quarantined whole as the
``quarantined_objects`` warning (see :mod:`dagster_project.checks`).
"""

from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project import freshness
from dagster_project.assets.bronze import bronze_key
from dagster_project.assets.results import Materialization
from dagster_project.checks import (
    freshness_result,
    quality_gate_result,
    quarantined_objects_result,
    silver_check_specs,
)
from dagster_project.partitions import fetch_day_asset, partition_days
from dagster_project.resources import LakehouseResource
from pipelines import steps
from pipelines.core.errors import DataQualityError
from pipelines.lakehouse import Lakehouse

GROUP = "silver"


def silver_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["silver", dataset])


def silver_asset(
    lakehouse: Lakehouse, dataset: str, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    key = silver_key(dataset)

    @dg.asset(
        key=key,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.SILVER),
        deps=[bronze_key(source) for source in steps.silver_sources(lakehouse, dataset)],
        check_specs=silver_check_specs(key),
        kinds={"spark", "delta"},
        description=f"silver/{dataset}: parsed, validated, deduplicated {dataset} records "
        "(refusals in silver/quarantine, counts in silver/reconciliation)",
    )
    def _silver(context: AssetExecutionContext, lake: LakehouseResource) -> Materialization:
        days = partition_days(context)
        try:
            report = steps.run_silver_all(lake.lakehouse, [dataset], backfill=days)[dataset]
        except DataQualityError as error:
            # The batch was refused and nothing of it merged: report the table as it stands and
            # fail the blocking check, so nothing downstream runs on this partition.
            context.log.error(str(error))
            table_results = steps.check_silver_table(lake.lakehouse, dataset)
            return dg.MaterializeResult(
                metadata=_table_metadata(lake, dataset) | {"fetch_days": str(days)},
                check_results=[
                    quality_gate_result(str(error), {}, table_results),
                    _objects_check(lake, dataset),
                    freshness_result(table_results),
                ],
            )
        return dg.MaterializeResult(
            metadata=_table_metadata(lake, dataset)
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
                _objects_check(lake, dataset),
                freshness_result(report.table_results),
            ],
        )

    return _silver


def _objects_check(lake: LakehouseResource, dataset: str) -> dg.AssetCheckResult:
    return quarantined_objects_result(steps.quarantined_objects(lake.lakehouse).rows(dataset))


def _table_metadata(lake: LakehouseResource, dataset: str) -> dict[str, Any]:
    return lake.table_metadata(lake.lakehouse.paths.silver(dataset))


def silver_assets(
    lakehouse: Lakehouse, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    return [silver_asset(lakehouse, dataset, partitions) for dataset in steps.SILVER_DATASETS]
