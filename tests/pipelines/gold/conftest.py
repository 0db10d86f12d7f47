"""A lake with every silver table of :mod:`silver_sets` and one full gold run over it, shared by
the gold test modules (read-only: tests that write build their own lake)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from pipelines.core.settings import Settings
from pipelines.gold.build import GoldBuild, GoldRunReport
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.reference import load_assets
from tests.fixtures.lake import lake_settings
from tests.pipelines.gold.silver_sets import write_all_silver


@dataclass
class GoldLake:
    settings: Settings
    report: GoldRunReport = field(default_factory=GoldRunReport)

    @property
    def lake(self) -> DeltaLake:
        return DeltaLake(self.settings.lake, self.settings.spark)

    def job(self, spark: SparkSession) -> GoldBuild:
        return GoldBuild(spark, self.lake, LakePaths(self.settings.lake), load_assets())

    def gold(self, table: str, key: tuple[str, ...] = ("asset_id", "ts")) -> pd.DataFrame:
        """A gold table as pandas, sorted by ``key``; list cells as tuples (comparable)."""
        frame = self.lake.to_arrow(self.settings.lake.uri("gold", table)).to_pandas()
        for column in frame.columns:
            if frame[column].map(lambda cell: isinstance(cell, np.ndarray)).any():
                frame[column] = frame[column].map(tuple)
        return frame.sort_values(list(key)).reset_index(drop=True)


@pytest.fixture(scope="session")
def gold_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> GoldLake:
    """Silver from :func:`write_all_silver`, then one full gold run."""
    settings = lake_settings(tmp_path_factory.mktemp("gold-full"))
    write_all_silver(settings)
    lake = GoldLake(settings)
    lake.report = lake.job(spark).run()
    return lake
