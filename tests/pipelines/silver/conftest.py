"""Every silver test that runs the silver step runs it on both engines (``RWA_SILVER_ENGINE``):
Spark, and the in-process DuckDB engine (seconds; the Spark session is the suite's anyway)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.core.settings import Settings
from tests.fixtures.lake import MakeSettings, lake_settings

ENGINES = ("spark", "duckdb")


@pytest.fixture(params=ENGINES)
def silver_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Path, silver_engine: str) -> MakeSettings:
    """Settings for an isolated lake under tmp_path, on the engine of the test's parameter;
    keyword arguments override fields."""

    def make(**overrides: Any) -> Settings:
        return lake_settings(tmp_path, **({"silver_engine": silver_engine} | overrides))

    return make
