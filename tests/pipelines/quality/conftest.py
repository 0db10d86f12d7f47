"""A quality gate on an isolated lake (GX context built per test: about 0.1 s)."""

from __future__ import annotations

import pytest

from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.quality.gate import QualityGate
from tests.fixtures.lake import MakeSettings


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings()


@pytest.fixture
def lake(settings: Settings) -> DeltaLake:
    return DeltaLake(settings.lake, settings.spark)


@pytest.fixture
def gate(settings: Settings, lake: DeltaLake) -> QualityGate:
    return QualityGate.from_settings(settings.quality, lake, LakePaths(settings.lake))
