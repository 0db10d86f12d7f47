"""The bronze lander against a real broker: exactly once, rotation, dead letters, crashes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from kafka import KafkaProducer, TopicPartition

from pipelines.bronze.batches import ConsumedRecord, PartitionBuffer
from pipelines.bronze.lander import BatchManifest, BronzeLander, LanderConflictError, LanderReport
from pipelines.bronze.writer import BronzeWriter, bronze_inventory
from pipelines.contracts.envelope import RawEnvelope
from pipelines.core.settings import Settings, variable_owners
from pipelines.kafka.producer import EnvelopePublisher
from pipelines.kafka.topics import ensure_topics, raw_topics
from pipelines.lake.objects import LocalObjectStore, ObjectStore, open_object_store
from tests.fixtures.kafka import REPO, KafkaBroker
from tests.fixtures.lake import MakeSettings
from tests.fixtures.s3 import S3Server
from tests.pipelines.kafka.support import (
    assert_exactly_once,
    bronze_lines,
    committed_offsets,
    kafka_settings,
    read_topic,
    simulated_envelopes,
)


def publish(settings: Settings, envelopes: list[RawEnvelope]) -> None:
    with EnvelopePublisher(settings.kafka) as publisher:
        report = publisher.publish_all(envelopes)
    assert report.acknowledged == len(envelopes), report.failed[:3]


def run_lander(broker: KafkaBroker, settings: Settings, idle_s: float = 1.0) -> LanderReport:
    lander = BronzeLander(
        settings.kafka,
        open_object_store(settings.lake),
        consumer_overrides=broker.consumer_overrides,
    )
    return lander.run(stop_after_idle_s=idle_s)


def manifests(store: ObjectStore) -> list[BatchManifest]:
    return [BatchManifest.decode(store.get(key)) for key in store.list("_lander")]


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


# -- exactly once ------------------------------------------------------------------------------


def test_lands_every_published_envelope_exactly_once(
    kafka: KafkaBroker, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = kafka_settings(make_settings, kafka)
    envelopes = simulated_envelopes(settings)
    publish(settings, envelopes)

    report = run_lander(kafka, settings)

    store = open_object_store(settings.lake)
    assert_exactly_once(store, envelopes)
    assert report.consumed == report.landed == len(envelopes)
    assert report.dead_letters == 0
    # Same lines as landing directly: bronze does not depend on the transport.
    direct = BronzeWriter(open_object_store(make_settings(lake_root=str(tmp_path / "direct")).lake))
    direct_lines = sorted(
        line
        for key in direct.land(envelopes).keys
        for line in direct.store.get(key).decode().splitlines()
    )
    assert sorted(bronze_lines(store)) == direct_lines
    # Names follow (topic, partition, first offset) inside source/dataset/date folders.
    for key in store.list("bronze"):
        folder, name = key.rsplit("/", 1)
        assert folder.startswith("bronze/source=simulated/dataset=")
        topic, partition, offset = name.removesuffix(".jsonl").split("+")
        assert topic in raw_topics() and partition.isdigit() and len(offset) == 20
    # Batch manifests live outside bronze: readers of bronze never see them.
    assert set(bronze_inventory(store)) == {"prices", "onchain", "economic", "news", "transfers"}
    assert len(manifests(store)) == report.batches
    # Offsets were committed: a second run finds nothing to do.
    assert run_lander(kafka, settings, idle_s=0.5).consumed == 0


def test_lands_exactly_once_on_s3(
    kafka: KafkaBroker, make_settings: MakeSettings, s3_server: S3Server
) -> None:
    bucket = s3_server.create_bucket()
    settings = kafka_settings(make_settings, kafka, **s3_server.settings_overrides(bucket))
    envelopes = simulated_envelopes(settings)
    publish(settings, envelopes)

    report = run_lander(kafka, settings)

    store = open_object_store(settings.lake)
    assert store.describe().startswith("s3://")
    assert_exactly_once(store, envelopes)
    assert report.landed == len(envelopes)


# -- rotation ----------------------------------------------------------------------------------


def test_rotates_by_record_count(kafka: KafkaBroker, make_settings: MakeSettings) -> None:
    settings = kafka_settings(make_settings, kafka, lander_max_records=5)
    envelopes = simulated_envelopes(settings)
    publish(settings, envelopes)

    report = run_lander(kafka, settings)

    store = open_object_store(settings.lake)
    assert_exactly_once(store, envelopes)
    batches = manifests(store)
    assert report.batches == len(batches)
    assert all(batch.records <= 5 for batch in batches)
    assert sum(batch.records for batch in batches) == len(envelopes)
    assert all(store.get(key).count(b"\n") <= 5 for key in store.list("bronze"))


def test_a_full_buffer_takes_along_the_buffers_at_least_half_full(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    """They share its landing (durability waits, one commit); a buffer that waits for an
    earlier run's manifest to end is closed by that end only."""
    settings = kafka_settings(make_settings, kafka, lander_max_records=10, lander_max_bytes=2048)
    lander = BronzeLander(
        settings.kafka,
        open_object_store(settings.lake),
        consumer_overrides=kafka.consumer_overrides,
    )
    try:
        tps = [TopicPartition("price-data-raw", p) for p in range(6)]

        def buffer(records: int, size: int = 1, forced_end: int | None = None) -> PartitionBuffer:
            lines = [ConsumedRecord(i, size) for i in range(records)]
            return PartitionBuffer(lines, 0.0, size * records, forced_end)

        lander._buffers = {
            tps[0]: buffer(10),  # full
            tps[1]: buffer(5),  # half the records
            tps[2]: buffer(4),  # less
            tps[3]: buffer(1, size=1024),  # half the bytes
            tps[4]: buffer(1, size=1023),
            tps[5]: buffer(7, forced_end=20),  # an earlier run's batch
        }
        assert lander._half_full(tps[0]) == [tps[1], tps[3]]
    finally:
        lander.close()


def test_rotates_by_size(kafka: KafkaBroker, make_settings: MakeSettings) -> None:
    max_bytes = 20_000
    settings = kafka_settings(make_settings, kafka, lander_max_bytes=max_bytes, sim_days=3)
    envelopes = [e for e in simulated_envelopes(settings) if e.dataset == "prices"]
    publish(settings, envelopes)

    run_lander(kafka, settings)

    store = open_object_store(settings.lake)
    assert_exactly_once(store, envelopes)
    largest = max(len(e.to_json_line()) + 1 for e in envelopes)
    assert largest < max_bytes / 2
    by_partition: dict[int, list[int]] = defaultdict(list)
    for batch in sorted(manifests(store), key=lambda b: b.first_offset):
        by_partition[batch.partition].append(sum(len(store.get(k)) for k in batch.objects))
    for sizes in by_partition.values():
        # Each batch closes with the record that reaches the limit; the last one at idle.
        assert len(sizes) >= 2
        assert all(max_bytes <= size < max_bytes + largest for size in sizes[:-1])
        assert sizes[-1] < max_bytes + largest


def test_rotates_by_time_while_running(kafka: KafkaBroker, make_settings: MakeSettings) -> None:
    settings = kafka_settings(make_settings, kafka, lander_max_interval_s=0.3)
    envelopes = simulated_envelopes(settings)
    first, rest = envelopes[:30], envelopes[30:]
    store = open_object_store(settings.lake)
    lander = BronzeLander(
        settings.kafka,
        open_object_store(settings.lake),
        consumer_overrides=kafka.consumer_overrides,
    )
    runner = threading.Thread(target=lander.run)
    runner.start()
    try:
        publish(settings, first)
        # Far below the record and size limits, and the lander is not idle-exiting: only the
        # interval can have flushed these.
        wait_until(lambda: len(bronze_lines(store)) == len(first))
        assert runner.is_alive()
        publish(settings, rest)
        wait_until(lambda: len(bronze_lines(store)) == len(envelopes))
    finally:
        lander.stop()
        runner.join(30)
    assert not runner.is_alive()
    assert_exactly_once(store, envelopes)
    assert lander.report.batches >= 2


# -- dead letters ------------------------------------------------------------------------------


def test_poison_records_go_to_the_dead_letter_topic_and_the_rest_lands(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    settings = kafka_settings(make_settings, kafka)
    envelopes = [e for e in simulated_envelopes(settings) if e.dataset == "prices"][:10]
    unsafe = envelopes[0].model_copy(update={"source": "../escape"}).to_json_line().encode()
    poison: list[tuple[bytes | None, str]] = [
        (b"\xff\xfe\x00 not text", "value is not JSON"),
        (b"plain text, not JSON", "value is not JSON"),
        (b'{"hello": "world"}', "value is not a raw envelope: source: Field required (+"),
        (b'{"source": "x", "dataset": "stocks"}', "value is not a raw envelope: dataset"),
        (unsafe, "source '../escape' is not usable as a bronze partition folder"),
        (None, "empty value (tombstone)"),
    ]
    ensure_topics(settings.kafka)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    sent = [envelope.to_json_line().encode() for envelope in envelopes[:5]]
    sent += [value for value, _ in poison]
    sent += [envelope.to_json_line().encode() for envelope in envelopes[5:]]
    for value in sent:
        producer.send("price-data-raw", key=b"k", value=value, partition=0)
    producer.flush()
    producer.close()

    report = run_lander(kafka, settings)

    assert_exactly_once(open_object_store(settings.lake), envelopes)
    assert report.dead_letters == len(poison)
    dead = sorted(read_topic(kafka, settings.kafka.dead_letter_topic), key=lambda r: r.offset)
    assert [record.value for record in dead] == [value for value, _ in poison]
    for record, (_, reason) in zip(dead, poison, strict=True):
        headers = {name: value.decode() for name, value in record.headers}
        assert reason in headers["dlq.reason"], headers["dlq.reason"]
        assert headers["dlq.topic"] == "price-data-raw"
        assert headers["dlq.partition"] == "0"
        assert headers["dlq.group"] == settings.kafka.lander_group_id
        assert sent[int(headers["dlq.offset"])] == record.value
        assert record.key == b"k"
    # Poison offsets were committed with their batch: nothing is consumed again.
    committed = committed_offsets(kafka, settings, ["price-data-raw"])
    assert committed[TopicPartition("price-data-raw", 0)] == len(sent)
    assert run_lander(kafka, settings, idle_s=0.5).consumed == 0


# -- crashes -----------------------------------------------------------------------------------


def child_overrides(settings: Settings) -> str:
    fields = ["lake_root", "kafka_bootstrap_servers", "lander_group_id", "lander_max_records"]
    fields += ["lander_max_bytes", "lander_max_interval_s"]
    owners = variable_owners()
    values = {name: getattr(getattr(settings, owners[name][0]), owners[name][1]) for name in fields}
    return json.dumps(values)


def run_crashing_lander(settings: Settings, kill_after_objects: int) -> None:
    """A lander in a child process that SIGKILLs itself right after writing its n-th object,
    before that batch is committed."""
    child = [sys.executable, "-m", "tests.pipelines.kafka.lander_child"]
    done = subprocess.run(
        [*child, child_overrides(settings), str(kill_after_objects)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    assert "killing myself after writing bronze/" in done.stdout


def committed_records(kafka: KafkaBroker, settings: Settings) -> int:
    # Offsets here are contiguous from 0 (no transactions, no compaction): committed offset =
    # records committed.
    return sum(committed_offsets(kafka, settings, raw_topics()).values())


def test_lander_killed_between_write_and_commit_lands_every_record_once(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    settings = kafka_settings(make_settings, kafka, lander_max_records=7)
    envelopes = simulated_envelopes(settings)
    publish(settings, envelopes)
    store = open_object_store(settings.lake)

    run_crashing_lander(settings, kill_after_objects=4)

    after_crash = len(bronze_lines(store))
    assert 0 < after_crash < len(envelopes)
    # Some landed records were never committed: the crash hit the write/commit window.
    assert after_crash > committed_records(kafka, settings)

    report = run_lander(kafka, settings)

    assert_exactly_once(store, envelopes)
    assert report.objects_present >= 1  # the crashed batch was rewritten under the same names
    assert report.landed + report.replayed == report.consumed
    assert committed_records(kafka, settings) == len(envelopes)


class FailingMidBatch(LocalObjectStore):
    """A disk that fails (once) while a batch's objects are written: some are in place, the
    rest never appear."""

    def put_many_if_absent(self, objects: Mapping[str, bytes]) -> dict[str, bool]:
        if len(objects) < 4 or not all(key.startswith("bronze/") for key in objects):
            return super().put_many_if_absent(objects)
        half = dict(list(objects.items())[: len(objects) // 2])
        super().put_many_if_absent(half)
        raise OSError(28, "No space left on device")


def test_write_failing_part_way_through_a_batch_commits_nothing_and_replays_once(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    """Objects of a batch are written together (fsyncs overlapped), so a failure can leave
    part of them in place: nothing is committed, and the next run completes the batch."""
    settings = kafka_settings(make_settings, kafka)
    envelopes = simulated_envelopes(settings)
    publish(settings, envelopes)
    store = open_object_store(settings.lake)
    failing = BronzeLander(
        settings.kafka,
        FailingMidBatch(Path(settings.lake.root)),
        consumer_overrides=kafka.consumer_overrides,
    )

    with pytest.raises(OSError, match="No space left"):
        failing.run(stop_after_idle_s=1.0)
    assert 0 < len(bronze_lines(store)) < len(envelopes)
    assert committed_records(kafka, settings) == 0

    report = run_lander(kafka, settings)

    assert_exactly_once(store, envelopes)
    assert report.objects_present >= 1 and report.objects_written >= 1
    assert committed_records(kafka, settings) == len(envelopes)


def test_restart_with_other_rotation_and_more_data_still_lands_exactly_once(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    """After a crash the replayed buffer would end elsewhere (more records arrived, other
    limits, wall-clock rotation); the batch manifest keeps the crashed batch's boundaries."""
    settings = kafka_settings(make_settings, kafka, lander_max_records=7, sim_days=3)
    envelopes = simulated_envelopes(settings)
    half = len(envelopes) // 2
    publish(settings, envelopes[:half])
    run_crashing_lander(settings, kill_after_objects=4)
    publish(settings, envelopes[half:])

    relaxed = settings.updated(lander_max_records=5_000, lander_max_interval_s=60)
    report = run_lander(kafka, relaxed)

    store = open_object_store(settings.lake)
    assert_exactly_once(store, envelopes)
    assert report.replayed >= 1


def test_reused_offsets_stop_the_lander_instead_of_losing_records(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    settings = kafka_settings(make_settings, kafka)
    envelopes = simulated_envelopes(settings)
    publish(settings, envelopes)
    run_lander(kafka, settings)
    store = open_object_store(settings.lake)
    before = sorted(bronze_lines(store))

    # An empty broker (memory storage) is what a deleted and recreated topic looks like:
    # offsets start at 0 again, so names derived from them are taken by other records.
    kafka.restart()
    other = simulated_envelopes(settings.updated(sim_seed=7))
    publish(settings, other)
    with pytest.raises(LanderConflictError, match="topic recreated"):
        run_lander(kafka, settings)
    assert sorted(bronze_lines(store)) == before  # nothing overwritten


def test_two_landers_in_one_group_share_the_work_exactly_once(
    kafka: KafkaBroker, make_settings: MakeSettings
) -> None:
    settings = kafka_settings(
        make_settings, kafka, sim_days=4, lander_max_records=10, lander_max_interval_s=0.2
    )
    envelopes = simulated_envelopes(settings)
    half = len(envelopes) // 2
    store = open_object_store(settings.lake)
    members = [
        BronzeLander(
            settings.kafka,
            open_object_store(settings.lake),
            consumer_overrides=kafka.consumer_overrides,
        )
        for _ in "ab"
    ]
    threads = [threading.Thread(target=member.run) for member in members]
    try:
        threads[0].start()
        publish(settings, envelopes[:half])
        wait_until(lambda: len(bronze_lines(store)) == half)
        threads[1].start()  # joining forces a rebalance

        def split() -> bool:
            first, second = (member.assignment() for member in members)
            return bool(first and second) and not first & second

        wait_until(split)
        publish(settings, envelopes[half:])
        wait_until(lambda: len(bronze_lines(store)) == len(envelopes))
    finally:
        for member in members:
            member.stop()
        for thread in threads:
            thread.join(30)

    assert_exactly_once(store, envelopes)
    assert members[0].report.consumed >= half
    assert members[1].report.consumed > 0
