"""The transport of the source bronze assets: straight into bronze, or through Kafka."""

# No ``from __future__ import annotations``: Dagster reads the ResourceDependency annotation
# at class creation and needs the type itself, not its name.
import dagster as dg

from pipelines import steps
from pipelines.lakehouse import Lakehouse


class KafkaResource(dg.ConfigurableResource["KafkaResource"]):
    """With ``publish`` the source assets publish raw envelopes to the dataset topics and the
    bronze lander (``rwa land``, a long-running service) lands them; without it they land
    straight into bronze. Brokers and security come from the ``RWA_KAFKA_*`` settings."""

    lakehouse: dg.ResourceDependency[Lakehouse]
    publish: bool = False

    @property
    def bus_kind(self) -> steps.BusKind:
        return "kafka" if self.publish else "direct"

    def ingest(self, source: str) -> steps.BusReport:
        """Fetch the ingest window of ``source`` and deliver it through this transport."""
        with steps.bus_for(self.lakehouse, self.bus_kind) as bus:
            return steps.ingest(self.lakehouse, source, bus)
