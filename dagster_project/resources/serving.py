"""The serving store the gold tables are loaded into and the API reads."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg

from dagster_project.resources.settings import from_settings
from pipelines.core.settings import ServingBackend, Settings


class ServingStoreResource(dg.ConfigurableResource["ServingStoreResource"]):
    """DuckDB (embedded) or TimescaleDB. The TimescaleDB password belongs in the DSN's
    environment (``RWA_TIMESCALE_DSN`` or libpq's ``PGPASSWORD``), not in run configuration."""

    SETTINGS: ClassVar[dict[str, str]] = {
        "backend": "serving_backend",
        "duckdb_path": "duckdb_path",
        "timescale_dsn": "timescale_dsn",
    }

    backend: ServingBackend = "duckdb"
    duckdb_path: str = "data/serving.duckdb"
    timescale_dsn: str = "postgresql://postgres@127.0.0.1:55432/rwa"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, backend: ServingBackend | None = None
    ) -> ServingStoreResource:
        return from_settings(cls, settings, **({"backend": backend} if backend else {}))
