"""Resources, one per file, and the set each deployment uses.

Every resource but the alerts wraps the deployment's one
:class:`~pipelines.lakehouse.Lakehouse` (built once from the settings) as behaviour: the assets,
checks and sensors hand it to the step functions of :mod:`pipelines.steps`. What differs
between deployments is a choice, not a copy of settings. ``RWA_DEPLOYMENT`` picks the set:

* ``local`` -- the settings as they are (embedded defaults: the lake under ``data/``, DuckDB),
  sources land straight into bronze;
* ``ci`` -- TimescaleDB as the serving store (the one the test command starts);
* ``production`` -- TimescaleDB, and the source assets publishing to Kafka for the bronze
  lander; refused unless ``RWA_LAKE_ROOT`` is an ``s3://`` URI.

Model artefacts live in the lake (``models/``), so they follow the lakehouse.
"""

from __future__ import annotations

from typing import Any

from dagster_project.resources.alerts import AlertsResource
from dagster_project.resources.kafka import KafkaResource
from dagster_project.resources.lakehouse import LakehouseResource
from dagster_project.resources.models import ModelStoreResource
from dagster_project.resources.serving import ServingStoreResource
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings
from pipelines.lakehouse import Lakehouse

__all__ = [
    "AlertsResource",
    "KafkaResource",
    "LakehouseResource",
    "ModelStoreResource",
    "ServingStoreResource",
    "resources_for",
]


def resources_for(settings: Settings) -> dict[str, Any]:
    """The resources of ``settings.orchestration.deployment`` over one lakehouse built from
    ``settings``."""
    deployment = settings.orchestration.deployment
    if deployment == "production" and not settings.lake.is_s3:
        raise ConfigurationError(
            f"RWA_DEPLOYMENT=production needs an S3 lake: RWA_LAKE_ROOT is "
            f"{settings.lake.root!r}, expected s3://bucket/prefix"
        )
    if deployment in ("ci", "production"):
        settings = settings.updated(serving_backend="timescaledb")
    lakehouse = Lakehouse.from_settings(settings)
    return {
        "lake": LakehouseResource(lakehouse=lakehouse),
        "models": ModelStoreResource(lakehouse=lakehouse),
        "serving": ServingStoreResource(lakehouse=lakehouse),
        "kafka": KafkaResource(lakehouse=lakehouse, publish=deployment == "production"),
        "alerts": AlertsResource(webhook_url=settings.orchestration.alert_webhook_url),
    }
