"""Dagster orchestration of the lakehouse: assets per layer, resources per deployment,
partitions by fetch day, schedules, sensors and asset checks. ``defs`` is what Dagster loads."""

from dagster_project.definitions import defs

__all__ = ["defs"]
