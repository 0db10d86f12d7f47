"""The transport of the source bronze assets: straight into bronze, or through Kafka."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg

from dagster_project.resources.settings import from_settings
from pipelines.core.settings import Settings
from pipelines.ingestion.bus import BusKind


class KafkaResource(dg.ConfigurableResource["KafkaResource"]):
    """With ``publish`` the source assets publish raw envelopes to the dataset topics and the
    bronze lander (``rwa land``, a long-running service) lands them; without it they land
    straight into bronze."""

    SETTINGS: ClassVar[dict[str, str]] = {
        "bootstrap_servers": "kafka_bootstrap_servers",
        "security_protocol": "kafka_security_protocol",
    }

    publish: bool = False
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"

    @classmethod
    def from_settings(cls, settings: Settings, *, publish: bool) -> KafkaResource:
        return from_settings(cls, settings, publish=publish)

    @property
    def bus_kind(self) -> BusKind:
        return "kafka" if self.publish else "direct"
