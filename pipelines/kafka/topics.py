"""The project's Kafka topics: their names, and creating them through the admin API, idempotently.

Raw envelopes travel on one topic per dataset (:data:`TOPIC_BY_DATASET`, the seed's names);
records that cannot be landed go to the dead-letter topic (``RWA_KAFKA_DEAD_LETTER_TOPIC``).

Topics are created with ``RWA_KAFKA_TOPIC_PARTITIONS`` partitions and
``RWA_KAFKA_REPLICATION_FACTOR`` replicas. A topic that already exists is left as it is, even
when its partition count differs: adding partitions would move keys to other partitions and
break per-asset order, so that is an operator's decision; the report shows the actual count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from pipelines.contracts.envelope import Dataset
from pipelines.core.errors import RwaError
from pipelines.core.settings import KafkaSettings
from pipelines.kafka.client import client_config

#: Kafka topic per dataset (the seed's topic names).
TOPIC_BY_DATASET: dict[Dataset, str] = {
    "prices": "price-data-raw",
    "onchain": "onchain-data-raw",
    "economic": "economic-data-raw",
    "news": "news-sentiment-raw",
    # Not a seed topic: ERC-20 Transfer log pages, one message per block range.
    "transfers": "onchain-transfers-raw",
}


class KafkaTopicError(RwaError):
    """A topic could not be created or described."""


def raw_topics() -> list[str]:
    """The raw-envelope topics, one per dataset."""
    return list(TOPIC_BY_DATASET.values())


def project_topics(settings: KafkaSettings) -> list[str]:
    """Every topic the project writes: the raw topics and the dead-letter topic."""
    return [*raw_topics(), settings.dead_letter_topic]


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    #: topic -> partition count, as the broker describes it after the call
    partitions: dict[str, int] = field(default_factory=dict)


def ensure_topics(settings: KafkaSettings, topics: Sequence[str] | None = None) -> TopicsReport:
    """Create ``topics`` (default: :func:`project_topics`) unless they exist; wait until every
    partition has a leader so producers can use them at once."""
    names = list(dict.fromkeys(topics if topics is not None else project_topics(settings)))
    admin = KafkaAdminClient(**client_config(settings))
    try:
        report = _create(admin, settings, names)
        admin.wait_for_topics(names, timeout_ms=30_000)
        report.partitions = _partition_counts(admin, names)
    except KafkaError as error:
        raise KafkaTopicError(f"cannot ensure Kafka topics {names}: {error}") from error
    finally:
        admin.close()
    return report


def _create(admin: Any, settings: KafkaSettings, names: list[str]) -> TopicsReport:
    spec = {
        name: {
            "num_partitions": settings.topic_partitions,
            "replication_factor": settings.replication_factor,
        }
        for name in names
    }
    # raise_errors=False: "already exists" is the idempotent case, other errors are raised below.
    response = admin.create_topics(spec, raise_errors=False)
    report = TopicsReport()
    for topic in response["topics"]:
        error = for_code(topic["error_code"])
        if topic["error_code"] == 0:
            report.created.append(topic["name"])
        elif error is TopicAlreadyExistsError:
            report.existing.append(topic["name"])
        else:
            detail = topic.get("error_message") or error.__name__
            raise KafkaTopicError(f"cannot create Kafka topic {topic['name']!r}: {detail}")
    return report


def _partition_counts(admin: Any, names: list[str]) -> dict[str, int]:
    return {topic["name"]: len(topic["partitions"]) for topic in admin.describe_topics(names)}
