"""Topics are created through the admin API with the configured partitions, idempotently."""

from __future__ import annotations

from kafka import KafkaAdminClient

from pipelines.kafka.topics import ensure_topics, project_topics
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.lake import MakeSettings


def test_creates_every_topic_with_configured_partitions(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    settings = make_settings(**kafka.settings_overrides(), kafka_topic_partitions=4)
    expected = [
        "price-data-raw",
        "onchain-data-raw",
        "economic-data-raw",
        "news-sentiment-raw",
        "onchain-transfers-raw",
        "ingest-dead-letter",
    ]
    assert project_topics(settings.kafka) == expected

    first = ensure_topics(settings.kafka)
    assert sorted(first.created) == sorted(expected)
    assert first.existing == []
    assert first.partitions == dict.fromkeys(expected, 4)

    again = ensure_topics(settings.kafka)
    assert again.created == []
    assert sorted(again.existing) == sorted(expected)
    assert again.partitions == first.partitions


def test_existing_topic_keeps_its_partition_count(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    # Adding partitions would move keys and break per-asset order: report, never change.
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    admin.create_topics({"price-data-raw": {"num_partitions": 2, "replication_factor": 1}})
    admin.close()
    settings = make_settings(**kafka.settings_overrides(), kafka_topic_partitions=6)
    report = ensure_topics(settings.kafka, ["price-data-raw", "news-sentiment-raw"])
    assert report.existing == ["price-data-raw"]
    assert report.created == ["news-sentiment-raw"]
    assert report.partitions == {"price-data-raw": 2, "news-sentiment-raw": 6}
