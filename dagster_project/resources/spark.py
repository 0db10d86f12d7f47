"""The Spark session the silver and gold assets compute with."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg

from dagster_project.resources.settings import from_settings
from pipelines.core.settings import Settings


class SparkResource(dg.ConfigurableResource["SparkResource"]):
    """Spark master and sizing. The session itself is process-wide (``get_spark``): with the
    in-process executor every step of a run shares one JVM instead of starting its own."""

    SETTINGS: ClassVar[dict[str, str]] = {
        "master": "spark_master",
        "driver_memory": "spark_driver_memory",
        "shuffle_partitions": "spark_shuffle_partitions",
    }

    master: str = "local[2]"
    driver_memory: str = "2g"
    shuffle_partitions: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> SparkResource:
        return from_settings(cls, settings)
