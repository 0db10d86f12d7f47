"""A quality gate on an isolated lake (GX context built per test: about 0.1 s); and, for the
tests comparing gates on the edge rows (tests/pipelines/quality/edges.py), a lake per module
whose silver/onchain holds the NAV history, the GX and DuckDB gates on it and a connection."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.quality.duck_gate import DuckQualityGate
from pipelines.quality.gate import QualityGate
from tests.fixtures.lake import MakeSettings, lake_of, lake_settings
from tests.pipelines.quality.edges import write_onchain_history


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings()


@pytest.fixture
def lake(settings: Settings) -> DeltaLake:
    return DeltaLake(settings.lake, settings.spark)


@pytest.fixture
def gate(settings: Settings, lake: DeltaLake) -> QualityGate:
    return QualityGate.from_settings(settings.quality, lake, LakePaths(settings.lake))


@pytest.fixture(scope="module")
def edge_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lake whose silver/onchain holds the edge rows' NAV history."""
    settings = lake_settings(Path(tmp_path_factory.mktemp("edges")))
    write_onchain_history(LakePaths(settings.lake).silver("onchain"))
    return settings


@pytest.fixture(scope="module")
def gx(edge_settings: Settings) -> QualityGate:
    return QualityGate.from_settings(edge_settings.quality, *lake_of(edge_settings))


@pytest.fixture(scope="module")
def duck(edge_settings: Settings) -> DuckQualityGate:
    return DuckQualityGate.from_settings(edge_settings.quality, *lake_of(edge_settings))


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection as the local silver engine opens it (UTC)."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone='UTC'")
    return connection
