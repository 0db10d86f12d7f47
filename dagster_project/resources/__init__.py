"""Resources, one per file, and the set each deployment uses.

Every resource holds the part of the project's :class:`~pipelines.core.settings.Settings` it
stands for; :func:`pipeline_settings` merges them over the environment's settings into the one
settings object the pipeline code takes. ``RWA_DEPLOYMENT`` picks the set:

Model artefacts live in the lake (``models/``), so the model store follows the lake.

* ``local`` -- embedded defaults: the lake under ``data/``, DuckDB, sources land straight into
  bronze;
* ``ci`` -- the same lake, TimescaleDB as the serving store (the one the test command starts);
* ``production`` -- an S3 lake, TimescaleDB, and the source assets publishing to Kafka for the
  bronze lander; refused unless ``RWA_LAKE_ROOT`` is an ``s3://`` URI.
"""

from __future__ import annotations

from typing import Any

from dagster_project.resources.alerts import AlertsResource
from dagster_project.resources.kafka import KafkaResource
from dagster_project.resources.lake import LakeResource
from dagster_project.resources.models import ModelStoreResource
from dagster_project.resources.serving import ServingStoreResource
from dagster_project.resources.settings import pipeline_settings
from dagster_project.resources.spark import SparkResource
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings

__all__ = [
    "AlertsResource",
    "KafkaResource",
    "LakeResource",
    "ModelStoreResource",
    "ServingStoreResource",
    "SparkResource",
    "pipeline_settings",
    "resources_for",
]


def resources_for(settings: Settings) -> dict[str, Any]:
    """The resources of ``settings.orchestration.deployment``, configured from ``settings``."""
    lake = LakeResource.from_settings(settings)
    resources: dict[str, Any] = {
        "lake": lake,
        "models": ModelStoreResource(lake=lake),
        "spark": SparkResource.from_settings(settings),
        "serving": ServingStoreResource.from_settings(settings),
        "kafka": KafkaResource.from_settings(settings, publish=False),
        "alerts": AlertsResource.from_settings(settings),
    }
    if settings.orchestration.deployment == "ci":
        resources["serving"] = ServingStoreResource.from_settings(settings, backend="timescaledb")
    elif settings.orchestration.deployment == "production":
        if not settings.lake.is_s3:
            raise ConfigurationError(
                f"RWA_DEPLOYMENT=production needs an S3 lake: RWA_LAKE_ROOT is "
                f"{settings.lake.root!r}, expected s3://bucket/prefix"
            )
        resources["serving"] = ServingStoreResource.from_settings(settings, backend="timescaledb")
        resources["kafka"] = KafkaResource.from_settings(settings, publish=True)
    return resources
