"""The bronze lander: a Kafka consumer group that lands raw envelopes in bronze exactly once.

It follows the Kafka Connect S3 sink's exactly-once rule: objects are named deterministically
from ``(topic, partition, first offset)`` and a partition's offsets are committed only after
every object of a batch is durably written, so a lander that dies anywhere between writing and
committing rewrites the very same names on restart, and the object store (``put_if_absent``)
turns the rewrite into a no-op.

Batches and object names
    Records are buffered per Kafka partition. A buffer is flushed as one *batch* when it holds
    ``RWA_LANDER_MAX_RECORDS`` records or ``RWA_LANDER_MAX_BYTES`` bytes of envelope lines, when
    it is ``RWA_LANDER_MAX_INTERVAL_S`` old, or when the lander stops. A batch is split by bronze
    partition (source, dataset, fetch date), one object per group::

        bronze/source=<s>/dataset=<d>/date=<YYYY-MM-DD>/<topic>+<partition>+<offset:020d>.jsonl

    where ``offset`` is the offset of the group's first record; lines are in offset order and
    are the canonical envelope lines (``RawEnvelope.to_json_line``), so a replay produces
    byte-identical objects.

Batch manifests (why a crash cannot change the boundaries)
    Kafka Connect keeps names deterministic only while rotation is deterministic (by record
    count, or by record time); a wall-clock rotation (``rotate.schedule.interval.ms``) breaks its
    exactly-once guarantee, because after a crash the replayed batch may end elsewhere and a
    group that now holds more records finds its name taken. Before writing a batch's objects,
    this lander therefore claims the batch with a small manifest,
    ``_lander/<topic>/<partition>/<first offset:020d>.json`` (outside ``bronze/``; first writer
    wins through ``put_if_absent``), recording the batch's last offset, its record count, its
    object keys and a fingerprint of its first record. A replay that starts at an offset with a
    manifest lands exactly the manifest's range (splitting a longer buffer, or waiting for the
    rest of a shorter one), so time- and size-based rotation stay exactly-once. An object found
    already present is compared byte for byte; a difference (the topic was deleted and
    recreated, so offsets were reused) stops the lander with :class:`LanderConflictError`
    instead of losing records silently. Manifests are tiny and kept as an audit trail of which
    offsets went into which objects.

Commits and rebalances
    Offsets (the next offset to read) are committed synchronously after a batch's objects and
    dead letters are written. On a rebalance, buffers of revoked partitions are dropped: their
    offsets were not committed, so the next owner reads them again. A commit refused because the
    group moved on is harmless for the same reason.

Dead letters
    A record that is not an envelope (undecodable bytes, not JSON, JSON failing ``RawEnvelope``
    validation, a source name unfit for a partition folder) goes to ``RWA_KAFKA_DEAD_LETTER_TOPIC``
    with its original key and value, and headers ``dlq.reason``, ``dlq.topic``,
    ``dlq.partition``, ``dlq.offset`` and ``dlq.group``; its offset is committed with its batch.
    Dead letters are acknowledged (``acks=all``) before that commit, so none is lost; after a
    crash between the two they are sent again (at least once).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import FrameType
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from pipelines.bronze.writer import partition_prefix
from pipelines.contracts.envelope import RawEnvelope
from pipelines.core.errors import RwaError
from pipelines.core.settings import Settings
from pipelines.kafka.client import (
    close_producer,
    consumer_config,
    flush_timeout_s,
    new_producer,
    producer_config,
)
from pipelines.kafka.topics import ensure_topics, project_topics, raw_topics
from pipelines.lake.objects import ObjectStore, open_object_store

log = logging.getLogger(__name__)

MANIFEST_PREFIX = "_lander"
#: A source name becomes a folder name: no separators, no hidden or relative names.
_SAFE_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: Commit errors meaning "the group moved on": the partition's next owner replays the batch.
_REBALANCED = (
    CommitFailedError,
    RebalanceInProgressError,
    IllegalGenerationError,
    UnknownMemberIdError,
)
_MAX_POLL_WAIT_S = 0.5

ObjectHook = Callable[[str], None]


class LanderError(RwaError):
    """The lander cannot go on (no partitions assigned, dead letters not acknowledged)."""


class LanderConflictError(LanderError):
    """Bronze already holds a different batch under a name this lander derived: offsets were
    reused (the topic was recreated). Nothing is overwritten; an operator must decide."""


@dataclass
class LanderReport:
    consumed: int = 0
    #: envelopes in objects this run wrote
    landed: int = 0
    #: envelopes in objects already present (a replay after a crash)
    replayed: int = 0
    objects_written: int = 0
    objects_present: int = 0
    dead_letters: int = 0
    batches: int = 0
    commits_refused: int = 0
    #: the whole run, group join and idle wait included
    seconds: float = 0.0
    #: from the first record consumed to the end of the last batch landed and committed
    active_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _Record:
    """One consumed record: an envelope line bound for ``folder``, or a dead letter."""

    offset: int
    size: int
    line: str | None = None
    folder: str | None = None
    key: bytes | None = None
    value: bytes | None = None
    reason: str | None = None

    @property
    def fingerprint(self) -> str:
        data = self.line.encode() if self.line is not None else (self.value or b"")
        return hashlib.sha256(data).hexdigest()


@dataclass
class _Buffer:
    records: list[_Record]
    opened_at: float
    size: int = 0
    #: the last offset a manifest from an earlier run fixes for this batch
    forced_end: int | None = None

    @property
    def last_offset(self) -> int:
        return self.records[-1].offset


@dataclass(frozen=True)
class BatchManifest:
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    records: int
    dead_letters: int
    objects: list[str]
    first_record_sha256: str

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def decode(cls, data: bytes) -> BatchManifest:
        return cls(**json.loads(data))


def manifest_key(topic: str, partition: int, first_offset: int) -> str:
    return f"{MANIFEST_PREFIX}/{topic}/{partition}/{first_offset:020d}.json"


def object_key(folder: str, topic: str, partition: int, first_offset: int) -> str:
    """The bronze key of a group whose first record is at ``first_offset``."""
    return f"{folder}/{topic}+{partition}+{first_offset:020d}.jsonl"


def decode_record(key: bytes | None, value: bytes | None, offset: int) -> _Record:
    """A consumed value as an envelope line, or as a dead letter with the reason."""
    size = len(value or b"")
    if value is None:
        return _Record(offset, size, key=key, value=value, reason="empty value (tombstone)")
    try:
        envelope = RawEnvelope.model_validate_json(value)
    except ValidationError as error:
        return _Record(offset, size, key=key, value=value, reason=_validation_reason(error))
    if not _SAFE_SOURCE.fullmatch(envelope.source):
        reason = f"source {envelope.source!r} is not usable as a bronze partition folder"
        return _Record(offset, size, key=key, value=value, reason=reason)
    line = envelope.to_json_line()
    folder = partition_prefix(envelope.source, envelope.dataset, envelope.fetched_date.isoformat())
    return _Record(offset, len(line) + 1, line=line, folder=folder)


def _validation_reason(error: ValidationError) -> str:
    problems = error.errors(include_url=False)
    first = problems[0]
    if first["type"] == "json_invalid":
        return f"value is not JSON: {first['msg']}"
    if first["type"] == "model_type" or not first["loc"]:
        return f"value is not a raw envelope: {first['msg']}"
    where = ".".join(str(part) for part in first["loc"])
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"value is not a raw envelope: {where}: {first['msg']}{more}"


class _RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes partitions whose buffers must be dropped. kafka-python calls it on its IO thread,
    so it only records; the lander's own thread acts on it after each poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset: set[TopicPartition] = set()

    def _note(self, partitions: Any) -> None:
        with self._lock:
            self._reset.update(partitions)

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._note(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        # A (re)assigned partition restarts at its committed offset: an old buffer is stale.
        self._note(assigned)

    def on_partitions_lost(self, lost: Any) -> None:
        self._note(lost)

    def take(self) -> set[TopicPartition]:
        with self._lock:
            taken, self._reset = self._reset, set()
        return taken


class BronzeLander:
    """Consumes the raw topics as group ``RWA_LANDER_GROUP_ID`` and lands them in bronze.

    ``consumer_overrides`` are extra kafka-python consumer settings (group timeouts);
    ``after_object`` is called with each object key right after the object is written and before
    anything is committed (tests crash the process there).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: ObjectStore | None = None,
        topics: Sequence[str] | None = None,
        consumer_overrides: Mapping[str, Any] | None = None,
        after_object: ObjectHook | None = None,
        assignment_timeout_s: float = 60.0,
    ) -> None:
        self.settings = settings
        self.store = store if store is not None else open_object_store(settings.lake)
        self.topics = list(topics) if topics is not None else raw_topics()
        self.group_id = settings.kafka.lander_group_id
        self.dead_letter_topic = settings.kafka.dead_letter_topic
        self._after_object = after_object
        self._assignment_timeout_s = assignment_timeout_s
        ensure_topics(settings, [*self.topics, *project_topics(settings)])
        config = consumer_config(settings, self.group_id) | dict(consumer_overrides or {})
        self._consumer = KafkaConsumer(**config)
        self._dead_letters: KafkaProducer | None = None  # created on the first dead letter
        self._listener = _RebalanceListener()
        self._buffers: dict[TopicPartition, _Buffer] = {}
        self._stop = threading.Event()
        self.report = LanderReport()
        self._first_record_at: float | None = None

    # -- running ---------------------------------------------------------------------------

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this group member owns right now."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def stop(self) -> None:
        """Ask :meth:`run` to flush, commit and return (thread- and signal-safe)."""
        self._stop.set()

    def run(
        self,
        *,
        stop_after_idle_s: float | None = None,
        max_records: int | None = None,
        handle_signals: bool = True,
    ) -> LanderReport:
        """Consume and land until stopped: by :meth:`stop` or SIGTERM/SIGINT, after
        ``stop_after_idle_s`` seconds without a new record (counted from the first partition
        assignment), or once ``max_records`` records were consumed. Every buffer is flushed and
        committed before returning; the consumer leaves its group."""
        started = time.monotonic()
        try:
            with self._signals_stop(handle_signals):
                self._consumer.subscribe(self.topics, listener=self._listener)
                self._loop(started, stop_after_idle_s, max_records)
                self._flush_all()
        finally:
            self.close()
            self.report.seconds = time.monotonic() - started
        return self.report

    def _loop(self, started: float, idle_s: float | None, max_records: int | None) -> None:
        active_since: float | None = None  # first assignment, then the latest record
        while not self._stop.is_set():
            polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms())
            self._drop_reset_partitions()
            now = time.monotonic()
            if active_since is None and self._consumer.assignment():
                active_since = now
            for tp, records in polled.items():
                for record in records:
                    self._add(tp, record)
                active_since = now
            self._rotate_due(now)
            if max_records is not None and self.report.consumed >= max_records:
                return
            if active_since is None and now - started > self._assignment_timeout_s:
                raise LanderError(
                    f"no partitions of {self.topics} assigned to group {self.group_id!r} within "
                    f"{self._assignment_timeout_s:.0f} s: is the broker reachable?"
                )
            if idle_s is not None and active_since is not None and now - active_since >= idle_s:
                return

    def _poll_timeout_ms(self) -> int:
        """Wait for records at most until the next buffer is due for rotation."""
        wait = _MAX_POLL_WAIT_S
        for buffer in self._buffers.values():
            if buffer.forced_end is None:  # a buffer waiting for a manifest's end has no due time
                due = (
                    buffer.opened_at + self.settings.kafka.lander_max_interval_s - time.monotonic()
                )
                wait = min(wait, max(due, 0.0))
        return int(wait * 1000)

    @contextlib.contextmanager
    def _signals_stop(self, enabled: bool) -> Iterator[None]:
        """SIGTERM/SIGINT ask for a graceful stop while :meth:`run` is running (main thread)."""
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, _: FrameType | None) -> None:
            log.info("signal %s: flushing and stopping (again to stop at once)", signum)
            self._stop.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def close(self) -> None:
        with contextlib.suppress(KafkaError):
            self._consumer.close()
        if self._dead_letters is not None:
            # Its sends were flushed with their batch: nothing is left worth waiting for.
            close_producer(self._dead_letters, 0)
            self._dead_letters = None

    # -- buffering ---------------------------------------------------------------------------

    def _add(self, tp: TopicPartition, consumed: Any) -> None:
        self.report.consumed += 1
        if self._first_record_at is None:
            self._first_record_at = time.monotonic()
        record = decode_record(consumed.key, consumed.value, consumed.offset)
        buffer = self._buffers.get(tp)
        if buffer is not None and record.offset <= buffer.last_offset:
            # The position moved back (a reset after a rebalance): the buffer is stale.
            del self._buffers[tp]
            buffer = None
        if (
            buffer is not None
            and buffer.forced_end is not None
            and record.offset > buffer.forced_end
        ):
            self._flush(tp)  # the manifest's range is complete (the log has a gap after it)
            buffer = self._buffers.get(tp)
        if buffer is None:
            buffer = self._buffers[tp] = _Buffer([], opened_at=time.monotonic())
        buffer.records.append(record)
        buffer.size += record.size
        if self._is_full(buffer):
            self._flush(tp)

    def _is_full(self, buffer: _Buffer) -> bool:
        if buffer.forced_end is not None:
            return buffer.last_offset >= buffer.forced_end
        return (
            len(buffer.records) >= self.settings.kafka.lander_max_records
            or buffer.size >= self.settings.kafka.lander_max_bytes
        )

    def _rotate_due(self, now: float) -> None:
        for tp, buffer in list(self._buffers.items()):
            waiting = buffer.forced_end is not None  # only the manifest's end may close it
            if not waiting and now - buffer.opened_at >= self.settings.kafka.lander_max_interval_s:
                self._flush(tp)

    def _drop_reset_partitions(self) -> None:
        for tp in self._listener.take():
            self._buffers.pop(tp, None)

    def _flush_all(self) -> None:
        for tp in list(self._buffers):
            if self._buffers[tp].forced_end is None:
                self._flush(tp)
            # else: an earlier run landed a longer batch from here; it is replayed next time

    # -- landing -----------------------------------------------------------------------------

    def _flush(self, tp: TopicPartition) -> None:
        """Land the partition's buffer as one or more batches and commit after each."""
        buffer = self._buffers.pop(tp)
        records = buffer.records
        while records:
            manifest = self._claim(tp, records)
            if manifest.last_offset > records[-1].offset:
                # An earlier run landed a longer batch from this offset: wait for its end.
                self._buffers[tp] = _Buffer(
                    records, buffer.opened_at, sum(r.size for r in records), manifest.last_offset
                )
                return
            count = sum(1 for r in records if r.offset <= manifest.last_offset)
            batch, records = records[:count], records[count:]
            self._check_replay(manifest, batch)
            self._land(tp, batch)
            self._send_dead_letters(tp, batch)
            self.report.batches += 1
            committed = self._commit(tp, manifest.last_offset + 1)
            if self._first_record_at is not None:
                self.report.active_seconds = time.monotonic() - self._first_record_at
            if not committed:
                return  # the group moved on; the next owner replays what is left

    def _claim(self, tp: TopicPartition, records: list[_Record]) -> BatchManifest:
        """This batch's manifest, or the one an earlier run wrote for the same first offset."""
        mine = BatchManifest(
            topic=tp.topic,
            partition=tp.partition,
            first_offset=records[0].offset,
            last_offset=records[-1].offset,
            records=len(records),
            dead_letters=sum(1 for r in records if r.reason is not None),
            objects=sorted(_groups(tp, records)),
            first_record_sha256=records[0].fingerprint,
        )
        key = manifest_key(tp.topic, tp.partition, mine.first_offset)
        if self.store.put_if_absent(key, mine.encode()):
            return mine
        theirs = BatchManifest.decode(self.store.get(key))
        if theirs.first_record_sha256 != mine.first_record_sha256:
            raise LanderConflictError(
                f"{key} describes a different record at offset {mine.first_offset} of "
                f"{tp.topic}[{tp.partition}]: were the topic's offsets reused (topic recreated)?"
            )
        log.info("replaying %s: offsets %s..%s", key, theirs.first_offset, theirs.last_offset)
        return theirs

    def _check_replay(self, manifest: BatchManifest, batch: list[_Record]) -> None:
        tp = TopicPartition(manifest.topic, manifest.partition)
        if manifest.records != len(batch) or manifest.objects != sorted(_groups(tp, batch)):
            raise LanderConflictError(
                f"offsets {manifest.first_offset}..{manifest.last_offset} of "
                f"{manifest.topic}[{manifest.partition}] hold other records than when they were "
                f"landed: were the topic's offsets reused (topic recreated)?"
            )

    def _land(self, tp: TopicPartition, batch: list[_Record]) -> None:
        for key, lines in _groups(tp, batch).items():
            body = "".join(f"{line}\n" for line in lines).encode()
            if self.store.put_if_absent(key, body):
                self.report.objects_written += 1
                self.report.landed += len(lines)
            elif self.store.get(key) == body:
                self.report.objects_present += 1
                self.report.replayed += len(lines)
            else:
                raise LanderConflictError(
                    f"bronze object {key} exists with other content: were the offsets of "
                    f"{tp.topic}[{tp.partition}] reused (topic recreated)?"
                )
            if self._after_object is not None:
                self._after_object(key)

    def _send_dead_letters(self, tp: TopicPartition, batch: list[_Record]) -> None:
        dead = [r for r in batch if r.reason is not None]
        if not dead:
            return
        if self._dead_letters is None:
            self._dead_letters = new_producer(producer_config(self.settings))
        futures = [
            self._dead_letters.send(
                self.dead_letter_topic,
                key=r.key,
                value=r.value,
                headers=[
                    ("dlq.reason", (r.reason or "").encode()),
                    ("dlq.topic", tp.topic.encode()),
                    ("dlq.partition", str(tp.partition).encode()),
                    ("dlq.offset", str(r.offset).encode()),
                    ("dlq.group", self.group_id.encode()),
                ],
            )
            for r in dead
        ]
        with contextlib.suppress(KafkaError):  # a flush timeout: counted as failures below
            self._dead_letters.flush(timeout=flush_timeout_s(self._dead_letters.config))
        failed = [f.exception or "not acknowledged in time" for f in futures if not f.succeeded()]
        if failed:
            raise LanderError(
                f"{len(failed)} dead letters of {tp.topic}[{tp.partition}] were not acknowledged "
                f"by {self.dead_letter_topic}: {failed[0]}"
            )
        self.report.dead_letters += len(dead)

    def _commit(self, tp: TopicPartition, next_offset: int) -> bool:
        try:
            self._consumer.commit({tp: OffsetAndMetadata(next_offset, "", -1)})
        except _REBALANCED as error:
            log.warning(
                "commit of %s at %s refused (%s); its next owner replays it", tp, next_offset, error
            )
            self.report.commits_refused += 1
            self._buffers.pop(tp, None)
            return False
        return True


def _groups(tp: TopicPartition, batch: list[_Record]) -> dict[str, list[str]]:
    """Object key -> lines: the batch's envelopes split by bronze partition folder, each group
    named after its first record's offset."""
    by_folder: dict[str, list[_Record]] = defaultdict(list)
    for record in batch:
        if record.folder is not None:
            by_folder[record.folder].append(record)
    return {
        object_key(folder, tp.topic, tp.partition, records[0].offset): [
            r.line for r in records if r.line is not None
        ]
        for folder, records in by_folder.items()
    }
