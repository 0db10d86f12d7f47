"""Bronze: one asset per source, each landing raw response envelopes in the object store.

The simulated source is partitioned by fetch day (deterministic: a partition always lands the
same objects). The HTTP sources fetch what is there *now*: they are not partitioned, run on the
hourly schedule, and land in today's fetch-day folder (or publish to Kafka in production).
"""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project import freshness
from dagster_project.assets.results import Materialization
from dagster_project.partitions import fetch_day_asset, partition_days
from dagster_project.resources import KafkaResource, LakeResource, pipeline_settings
from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.ingestion.bus import open_bus
from pipelines.ingestion.registry import known_sources

GROUP = "bronze"
SIMULATED = "simulated"


def bronze_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["bronze", source])


def simulated_bronze(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=bronze_key(SIMULATED),
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        kinds={"python", "json"},
        description="Deterministic simulated source: the daily fetch of each fetch day (prices, "
        "on-chain metrics, macro series and news of the day before)",
    )
    def bronze_simulated(context: AssetExecutionContext, lake: LakeResource) -> Materialization:
        settings = pipeline_settings(lake)
        days = partition_days(context)
        report = steps.land_simulated_fetch_days(settings, days)
        return dg.MaterializeResult(
            metadata={
                "fetch_days": str(days),
                "envelopes": report.records,
                "objects_written": report.objects_written,
                "objects_already_there": report.objects_present,
                "path": dg.MetadataValue.path(settings.lake.uri("bronze", f"source={SIMULATED}")),
            }
        )

    return bronze_simulated


def source_bronze(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=bronze_key(source),
        group_name=GROUP,
        freshness_policy=freshness.SOURCES,
        kinds={"python", "json"},
        description=f"Raw responses of the {source} connector for the ingest window, landed in "
        "bronze (or published to Kafka)",
    )
    def _fetch(lake: LakeResource, kafka: KafkaResource) -> Materialization:
        settings = pipeline_settings(lake, kafka)
        with open_bus(kafka.bus_kind, settings.kafka, settings.lake) as bus:
            report = steps.ingest(settings, source, bus)
        if report.failures:
            raise dg.Failure(
                f"{source}: {len(report.failures)} envelopes were not delivered "
                f"({report.summary()})"
            )
        return dg.MaterializeResult(
            metadata={
                "bus": report.bus,
                "envelopes_delivered": report.delivered,
                "objects_written": report.objects_written,
                "objects_already_there": report.objects_present,
                "window": _window_text(settings),
            }
        )

    return _fetch


def _window_text(settings: Settings) -> str:
    window = steps.ingest_window(settings)
    return f"{window.start.isoformat()} .. {window.end.isoformat()}"


def bronze_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    http_sources = [s for s in known_sources() if s != SIMULATED]
    return [simulated_bronze(partitions), *(source_bronze(s) for s in http_sources)]
