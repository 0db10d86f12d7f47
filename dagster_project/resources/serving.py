"""The serving store the gold tables are loaded into and the API reads."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipelines.core.settings import ServingBackend, Settings


class ServingStoreResource(dg.ConfigurableResource["ServingStoreResource"]):
    """DuckDB (embedded) or TimescaleDB. The TimescaleDB password belongs in the DSN's
    environment (``RWA_TIMESCALE_DSN`` or libpq's ``PGPASSWORD``), not in run configuration."""

    backend: ServingBackend = "duckdb"
    duckdb_path: str = "data/serving.duckdb"
    timescale_dsn: str = "postgresql://postgres@127.0.0.1:55432/rwa"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, backend: ServingBackend | None = None
    ) -> ServingStoreResource:
        return cls(
            backend=backend or settings.serving_backend,
            duckdb_path=str(settings.duckdb_path),
            timescale_dsn=settings.timescale_dsn,
        )

    def settings_fields(self) -> dict[str, Any]:
        return {
            "serving_backend": self.backend,
            "duckdb_path": self.duckdb_path,
            "timescale_dsn": self.timescale_dsn,
        }
