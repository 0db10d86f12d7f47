"""The Dagster definitions of the lakehouse: ``dagster dev`` (or ``dagster-webserver -m
dagster_project``) loads ``defs`` from here.

Everything is built from the project's settings (``RWA_*``): the partitions start at
``RWA_PARTITIONS_START``, the lakehouse is built once from them and ``RWA_DEPLOYMENT`` picks
the resources that wrap it (local, ci, production).
Steps run in one process per run (the in-process executor), so every Spark step of a run shares
one JVM and nothing large moves through Dagster's IO managers: assets read and write the lake.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.assets import lakehouse_assets
from dagster_project.jobs import lakehouse_jobs
from dagster_project.partitions import fetch_day_partitions
from dagster_project.resources import resources_for
from dagster_project.schedules import SCHEDULES
from dagster_project.sensors import SENSORS
from pipelines.core.settings import Settings, get_settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or get_settings()
    partitions = fetch_day_partitions(settings.orchestration.partitions_start)
    resources = resources_for(settings)
    return dg.Definitions(
        assets=lakehouse_assets(resources["lake"].lakehouse, partitions),
        jobs=lakehouse_jobs(partitions),
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources=resources,
        executor=dg.in_process_executor,
    )


defs = build_definitions()
