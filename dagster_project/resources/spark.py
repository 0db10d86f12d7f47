"""The Spark session the silver and gold assets compute with."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipelines.core.settings import Settings


class SparkResource(dg.ConfigurableResource["SparkResource"]):
    """Spark master and sizing. The session itself is process-wide (``get_spark``): with the
    in-process executor every step of a run shares one JVM instead of starting its own."""

    master: str = "local[2]"
    driver_memory: str = "2g"
    shuffle_partitions: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> SparkResource:
        return cls(
            master=settings.spark_master,
            driver_memory=settings.spark_driver_memory,
            shuffle_partitions=settings.spark_shuffle_partitions,
        )

    def settings_fields(self) -> dict[str, Any]:
        return {
            "spark_master": self.master,
            "spark_driver_memory": self.driver_memory,
            "spark_shuffle_partitions": self.shuffle_partitions,
        }
