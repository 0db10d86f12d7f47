"""The composition root: the lakehouse's shared parts, built once from the settings.

A :class:`Lakehouse` is what every step of :mod:`pipelines.steps` takes. It builds, once per
command (or per Dagster deployment), what the steps used to rebuild on every call: where each
table lives (:class:`LakePaths`), Delta table access (:class:`DeltaLake`), the bronze object
store (local folder or S3), the reference asset catalogue and, on first use only, the Spark
session (most steps never start Spark, and a JVM costs seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.contracts.reference import Asset, AssetCatalog
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import ObjectStore, open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.lake.spark import get_spark
from pipelines.reference import load_catalog

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class Lakehouse:
    """The settings and the objects built from them that the steps share.

    Steps hand each component only its part: a settings section (``lakehouse.settings.quality``)
    or one of the built objects (``lakehouse.delta``, ``lakehouse.paths``, ...).
    """

    settings: Settings
    paths: LakePaths
    delta: DeltaLake
    objects: ObjectStore
    #: The reference data (``pipelines/reference/assets.json``): version and assets.
    catalog: AssetCatalog

    @classmethod
    def from_settings(cls, settings: Settings) -> Lakehouse:
        return cls(
            settings=settings,
            paths=LakePaths(settings.lake),
            delta=DeltaLake(settings.lake, settings.spark),
            objects=open_object_store(settings.lake),
            catalog=load_catalog(),
        )

    @property
    def assets(self) -> Sequence[Asset]:
        """The reference assets, in catalogue order."""
        return tuple(self.catalog.assets)

    @property
    def spark(self) -> SparkSession:
        """The process-wide Spark session, started on first use (not cached here: a session
        stopped in between, as the CLI does on exit, is replaced by a fresh one)."""
        return get_spark(self.settings.spark)
