"""The serving store the gold tables are loaded into and the API reads."""

# No ``from __future__ import annotations``: Dagster reads the ResourceDependency annotation
# at class creation and needs the type itself, not its name.
import dagster as dg

from api.after_load import AfterLoadReport, after_serving_load
from pipelines import steps
from pipelines.core.settings import ServingBackend
from pipelines.lakehouse import Lakehouse


class ServingStoreResource(dg.ConfigurableResource["ServingStoreResource"]):
    """Loads the lakehouse's gold tables into its serving store: DuckDB (embedded) or
    TimescaleDB, as the deployment chose. The TimescaleDB password belongs in the DSN's
    environment (``RWA_TIMESCALE_DSN`` or libpq's ``PGPASSWORD``), not in run configuration."""

    lakehouse: dg.ResourceDependency[Lakehouse]

    @property
    def backend(self) -> ServingBackend:
        return self.lakehouse.settings.serving.backend

    def load(self) -> steps.ServingLoadReport:
        """Upsert the reference assets and every built gold table (idempotent)."""
        return steps.load_serving(self.lakehouse)

    def after_load(self) -> AfterLoadReport:
        """Price updates and alert evaluation on what the store serves (the operational
        database of the same settings)."""
        return after_serving_load(self.lakehouse.settings)
