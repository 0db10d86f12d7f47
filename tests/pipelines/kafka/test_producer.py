"""The envelope publisher: keys, record layout, per-key order, and accounting for every send."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict

import pytest

from pipelines.contracts.envelope import RawEnvelope
from pipelines.kafka.producer import DeliveryError, EnvelopePublisher, envelope_key
from pipelines.kafka.topics import TOPIC_BY_DATASET, ensure_topics
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.lake import MakeSettings
from tests.pipelines.kafka.support import kafka_settings, read_topic, simulated_envelopes


def _envelope(dataset: str, params: dict[str, object], endpoint: str = "/x") -> RawEnvelope:
    return RawEnvelope.wrap(
        source="simulated",
        dataset=dataset,  # type: ignore[arg-type]
        endpoint=endpoint,
        params=params,
        fetched_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        payload=[],
    )


def test_key_names_the_asset_or_series_the_response_is_about() -> None:
    prices = _envelope("prices", {"symbol_id": "SIM_SPOT_BTC_USD", "time_start": "..."})
    onchain = _envelope("onchain", {"asset": "ousg", "startDate": "2025-01-01"})
    fred = _envelope("economic", {"series_id": "DTB3", "observation_start": "..."})
    news = _envelope("news", {"q": "BTC OR ETH", "from": "..."}, endpoint="/v2/everything")
    assert envelope_key(prices) == "simulated|prices|SIM_SPOT_BTC_USD"
    assert envelope_key(onchain) == "simulated|onchain|ousg"
    assert envelope_key(fred) == "simulated|economic|DTB3"
    # No identity param: all responses of the endpoint share a key (ordered, less parallel).
    assert envelope_key(news) == "simulated|news|/v2/everything"


def test_publishes_each_envelope_acknowledged_to_its_dataset_topic(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    settings = kafka_settings(make_settings, kafka)
    envelopes = simulated_envelopes(settings)
    with EnvelopePublisher(settings.kafka) as publisher:
        assert publisher.idempotent  # the broker supports it, so it is on
        assert publisher.compression in {"gzip", "lz4", "zstd"}
        report = publisher.publish_all(envelopes)
    assert report.acknowledged == len(envelopes)
    assert report.failed == []
    per_dataset = defaultdict(int)
    for envelope in envelopes:
        per_dataset[TOPIC_BY_DATASET[envelope.dataset]] += 1
    assert dict(report.by_topic) == per_dataset

    records = read_topic(kafka, "price-data-raw")
    by_id = {e.ingest_id: e for e in envelopes}
    assert len(records) == per_dataset["price-data-raw"]
    for record in records:
        envelope = RawEnvelope.model_validate_json(record.value)
        assert record.value.decode() == by_id[envelope.ingest_id].to_json_line()
        assert record.key.decode() == envelope_key(envelope)
        headers = {name: value.decode() for name, value in record.headers}
        assert headers == {
            "source": "simulated",
            "dataset": "prices",
            "ingest_id": envelope.ingest_id,
        }


def test_per_asset_order_holds(kafka: KafkaBroker, make_settings: MakeSettings) -> None:
    settings = kafka_settings(make_settings, kafka, sim_days=6)
    prices = [e for e in simulated_envelopes(settings) if e.dataset == "prices"]
    # Publish asset by asset in time order, interleaved across assets.
    prices.sort(key=lambda e: (e.params["time_start"], e.params["symbol_id"]))
    with EnvelopePublisher(settings.kafka) as publisher:
        assert publisher.publish_all(prices).acknowledged == len(prices)

    partitions_of_key: dict[str, set[int]] = defaultdict(set)
    starts_of_key: dict[str, list[str]] = defaultdict(list)
    for record in sorted(read_topic(kafka, "price-data-raw"), key=lambda r: r.offset):
        key = record.key.decode()
        partitions_of_key[key].add(record.partition)
        starts_of_key[key].append(json.loads(record.value)["params"]["time_start"])
    assert len(partitions_of_key) == len({e.params["symbol_id"] for e in prices})
    assert all(len(partitions) == 1 for partitions in partitions_of_key.values())
    for starts in starts_of_key.values():
        assert starts == sorted(starts)
        assert len(starts) == 6


QUICK = {"delivery_timeout_ms": 1500, "request_timeout_ms": 1000, "max_block_ms": 1000}


@pytest.mark.parametrize("warm", [True, False], ids=["broker-dies-mid-session", "dies-at-once"])
def test_sends_to_a_dead_broker_are_reported_not_lost(
    kafka: KafkaBroker, make_settings: MakeSettings, warm: bool
) -> None:
    settings = kafka_settings(make_settings, kafka)
    envelopes = simulated_envelopes(settings)[:21]
    with EnvelopePublisher(settings.kafka, overrides=QUICK) as publisher:
        if warm:  # the producer has its metadata and idempotent producer id
            assert publisher.publish_all(envelopes[:1]).acknowledged == 1
        kafka.stop()
        report = publisher.publish_all(envelopes[1:])
    assert report.acknowledged == 0
    assert sorted(f.ingest_id for f in report.failed) == sorted(e.ingest_id for e in envelopes[1:])
    assert all(f.topic == "price-data-raw" and f.reason for f in report.failed)
    with pytest.raises(DeliveryError, match="20 of 20 envelopes were not acknowledged"):
        report.raise_for_failures()
    # Reported failed means dropped: a broker coming back must not receive them later.
    kafka.start()
    ensure_topics(settings.kafka)
    time.sleep(1.5)
    assert read_topic(kafka, "price-data-raw") == []
