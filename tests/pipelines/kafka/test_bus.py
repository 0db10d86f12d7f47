"""`rwa ingest` is one code path: the bus decides whether envelopes land now or go to Kafka."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines import steps
from pipelines.ingestion.bus import BusReport, DirectBus, KafkaBus, open_bus
from pipelines.kafka.producer import DeliveryError, DeliveryFailure
from pipelines.lake.objects import open_object_store
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.lake import MakeSettings
from tests.pipelines.kafka.support import SIM_END, kafka_settings, read_topic


def test_ingest_window_is_whole_days_up_to_the_end_or_now(make_settings: MakeSettings) -> None:
    fixed = steps.ingest_window(make_settings(sim_days=2, sim_end=SIM_END))
    assert (fixed.start, fixed.end) == (
        dt.datetime(2025, 1, 8, tzinfo=dt.UTC),
        dt.datetime(2025, 1, 10, tzinfo=dt.UTC),
    )
    now = dt.datetime(2025, 3, 4, 15, 30, 12, 999, tzinfo=dt.UTC)
    polling = steps.ingest_window(make_settings(sim_days=1), now=now)
    assert (polling.start, polling.end) == (
        dt.datetime(2025, 3, 3, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 4, 15, 30, 12, tzinfo=dt.UTC),
    )


def test_direct_bus_lands_what_land_simulated_lands(make_settings: MakeSettings) -> None:
    settings = make_settings(sim_days=2, sim_end=SIM_END)
    with open_bus("direct", settings.kafka, settings.lake) as bus:
        assert isinstance(bus, DirectBus)
        report = steps.ingest(settings, "simulated", bus)
        again = steps.ingest(settings, "simulated", bus)
    direct_keys = sorted(open_object_store(settings.lake).list("bronze"))
    assert report.delivered > 0 and report.objects_written == len(direct_keys)
    assert (again.delivered, again.objects_written, again.objects_present) == (
        0,
        0,
        len(direct_keys),
    )
    other = make_settings(sim_days=2, sim_end=SIM_END, lake_root=str(settings.lake.root) + "2")
    assert sorted(steps.land_simulated(other).keys) == direct_keys


def test_kafka_bus_publishes_every_envelope(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    settings = kafka_settings(make_settings, kafka)
    with open_bus("kafka", settings.kafka, settings.lake) as bus:
        assert isinstance(bus, KafkaBus)
        report = steps.ingest(settings, "simulated", bus)
    assert report.failures == []
    assert report.summary() == f"published {report.delivered:,} envelopes to Kafka (acks=all)"
    report.raise_for_failures()
    assert len(read_topic(kafka, "news-sentiment-raw")) == 2  # one per simulated day


def test_undelivered_envelopes_fail_the_ingest_in_one_line() -> None:
    failure = DeliveryFailure("abc", "price-data-raw", "KafkaTimeoutError: no broker")
    bus_report = BusReport("kafka", delivered=9, failures=[failure])
    assert "1 NOT acknowledged" in bus_report.summary()
    with pytest.raises(DeliveryError) as error:
        bus_report.raise_for_failures()
    assert str(error.value) == (
        "1 of 10 envelopes were not acknowledged by Kafka "
        "(first: abc on price-data-raw: KafkaTimeoutError: no broker)"
    )
