"""Where ingested envelopes go: straight into bronze, or onto Kafka for the bronze lander.

``rwa ingest --bus direct|kafka`` runs one code path; only the :class:`Bus` differs.

* :class:`DirectBus` (the embedded default) lands envelopes with :class:`BronzeWriter`:
  content-addressed objects, so a rerun writes nothing new.
* :class:`KafkaBus` publishes them with :class:`EnvelopePublisher` (one topic per dataset, keyed
  per asset); ``rwa land`` then lands them exactly once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pipelines.bronze.writer import BronzeWriter
from pipelines.contracts.envelope import RawEnvelope
from pipelines.core.resources import Closeable
from pipelines.core.settings import KafkaSettings, LakeSettings
from pipelines.kafka.client import kafka_errors
from pipelines.kafka.producer import (
    DeliveryError,
    DeliveryFailure,
    EnvelopePublisher,
    delivery_failure_message,
)
from pipelines.lake.objects import open_object_store

BusKind = Literal["direct", "kafka"]


@dataclass
class BusReport:
    """What one :meth:`Bus.send` did with its envelopes."""

    bus: BusKind
    #: envelopes landed (direct, new objects only) or acknowledged by Kafka
    delivered: int = 0
    objects_written: int = 0
    #: direct: objects already in bronze (the same envelopes landed before)
    objects_present: int = 0
    failures: list[DeliveryFailure] = field(default_factory=list)

    def summary(self) -> str:
        if self.bus == "direct":
            return (
                f"landed {self.delivered:,} envelopes in {self.objects_written:,} new bronze "
                f"objects ({self.objects_present:,} already present)"
            )
        failed = f", {len(self.failures):,} NOT acknowledged" if self.failures else ""
        return f"published {self.delivered:,} envelopes to Kafka (acks=all){failed}"

    def raise_for_failures(self) -> None:
        """Raise :class:`DeliveryError` when any envelope was not delivered."""
        if self.failures:
            attempted = self.delivered + len(self.failures)
            raise DeliveryError(delivery_failure_message(self.failures, attempted))


class Bus(Closeable):
    kind: BusKind

    @abstractmethod
    def send(self, envelopes: Iterable[RawEnvelope]) -> BusReport:
        """Deliver every envelope; the report accounts for each of them."""

    def close(self) -> None:
        """Release connections (the direct bus holds none)."""


class DirectBus(Bus):
    kind: BusKind = "direct"

    def __init__(self, writer: BronzeWriter) -> None:
        self.writer = writer

    def send(self, envelopes: Iterable[RawEnvelope]) -> BusReport:
        landed = self.writer.land(envelopes)
        return BusReport(
            "direct",
            delivered=landed.records,
            objects_written=landed.objects_written,
            objects_present=landed.objects_present,
        )


class KafkaBus(Bus):
    kind: BusKind = "kafka"

    def __init__(self, publisher: EnvelopePublisher) -> None:
        self.publisher = publisher

    def send(self, envelopes: Iterable[RawEnvelope]) -> BusReport:
        report = self.publisher.publish_all(envelopes)
        return BusReport("kafka", delivered=report.acknowledged, failures=report.failed)

    def close(self) -> None:
        self.publisher.close()


def open_bus(kind: BusKind, kafka: KafkaSettings, lake: LakeSettings) -> Bus:
    """The bus ``kind``: Kafka as ``kafka`` configures it (the raw topics are ensured), or
    bronze in the lake ``lake`` configures."""
    if kind == "kafka":
        with kafka_errors(kafka):
            return KafkaBus(EnvelopePublisher(kafka))
    return DirectBus(BronzeWriter(open_object_store(lake)))
