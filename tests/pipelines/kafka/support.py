"""Helpers shared by the Kafka transport and bronze lander tests."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from pipelines.contracts.envelope import BRONZE_PREFIX, RawEnvelope
from pipelines.core.settings import Settings
from pipelines.lake.objects import ObjectStore
from pipelines.lakehouse import Lakehouse
from pipelines.steps import simulated_source
from tests.fixtures.kafka import KafkaBroker

#: A fixed simulated window, so every run sees the same envelopes.
SIM_END = dt.date(2025, 1, 10)


def kafka_settings(
    make_settings: Callable[..., Settings], broker: KafkaBroker, **overrides: Any
) -> Settings:
    """Settings for a temp lake, the test broker and a small fixed simulation."""
    fields: dict[str, Any] = {"sim_end": SIM_END, "sim_days": 2, "sim_fault_rate": 0.0}
    return make_settings(**(fields | broker.settings_overrides() | overrides))


def simulated_envelopes(settings: Settings) -> list[RawEnvelope]:
    source = simulated_source(Lakehouse.from_settings(settings))
    return list(source.collect(source.window))


def bronze_lines(store: ObjectStore) -> list[str]:
    """Every envelope line in bronze, object by object."""
    return [
        line for key in store.list(BRONZE_PREFIX) for line in store.get(key).decode().splitlines()
    ]


def ingest_id_counts(lines: Iterable[str]) -> Counter[str]:
    return Counter(json.loads(line)["ingest_id"] for line in lines)


def assert_exactly_once(store: ObjectStore, envelopes: Iterable[RawEnvelope]) -> None:
    """Bronze holds each envelope exactly once, and nothing else."""
    expected = sorted(envelope.to_json_line() for envelope in envelopes)
    lines = bronze_lines(store)
    counts = ingest_id_counts(lines)
    duplicated = {ingest_id: n for ingest_id, n in counts.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} envelopes landed more than once"
    assert len(lines) == len(expected)
    assert sorted(lines) == expected


def read_topic(broker: KafkaBroker, topic: str, timeout_s: float = 10.0) -> list[Any]:
    """Every record of ``topic`` (all partitions, beginning to end), without a consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"{topic} not read to its end in {timeout_s} s"
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def committed_offsets(
    broker: KafkaBroker, settings: Settings, topics: Iterable[str]
) -> dict[TopicPartition, int]:
    """Committed offset of the lander's group per partition of ``topics`` (0 where none)."""
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=settings.kafka.lander_group_id,
        enable_auto_commit=False,
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        return {tp: consumer.committed(tp) or 0 for tp in partitions}
    finally:
        consumer.close()
