"""The bronze lander: a Kafka consumer group that lands raw envelopes in bronze exactly once.

It follows the Kafka Connect S3 sink's exactly-once rule: objects are named deterministically
from ``(topic, partition, first offset)`` (:mod:`pipelines.bronze.batches`) and a partition's
offsets are committed only after every object of a batch is durably written
(:meth:`pipelines.kafka.consumer.GroupConsumer.commit_after`, the one place offsets are
committed), so a lander that dies anywhere between writing and committing rewrites the very
same names on restart, and the object store (``put_if_absent``) turns the rewrite into a no-op.

Batches
    Records are buffered per Kafka partition. A buffer is flushed as one *batch* when it holds
    ``RWA_LANDER_MAX_RECORDS`` records or ``RWA_LANDER_MAX_BYTES`` bytes of envelope lines, when
    it is ``RWA_LANDER_MAX_INTERVAL_S`` old, or when the lander stops; a buffer that is full
    takes along every other buffer holding at least half a batch, so that they share the
    landing's durability waits and commit. A batch is split by bronze partition (source,
    dataset, fetch date), one object per group.

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

Landing several batches at once
    Batches due together (a time rotation, the final flush) are landed together, in the
    exactly-once order: every batch's manifest is claimed first, then the objects of all of
    them are written in one ``put_many_if_absent`` (it returns once all are durable: on a
    local Linux file system with two ``syncfs`` calls for the whole call, whatever the number
    of objects, elsewhere with overlapped fsyncs; on S3 with concurrent PUTs; see
    :mod:`pipelines.lake.objects`), then the dead letters are published, then the offsets of
    all their partitions are committed in one request.

Commits and rebalances
    Offsets (the next offset to read) are committed synchronously after a batch's objects and
    dead letters are written. On a rebalance, buffers of revoked partitions are dropped: their
    offsets were not committed, so the next owner reads them again. A commit refused because the
    group moved on is harmless for the same reason.

Dead letters
    A record that is not an envelope (undecodable bytes, not JSON, JSON failing ``RawEnvelope``
    validation, a source name unfit for a partition folder) goes to ``RWA_KAFKA_DEAD_LETTER_TOPIC``
    (:mod:`pipelines.kafka.dead_letters`) with its original key and value; its offset is
    committed with its batch, after the dead letters are acknowledged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kafka import TopicPartition

from pipelines.bronze.batches import (
    BatchManifest,
    ConsumedRecord,
    PartitionBuffer,
    dead_letters,
    decode_records,
    group_objects,
    object_keys,
)
from pipelines.bronze.decoding import FolderDecoder, Folders
from pipelines.core.errors import RwaError
from pipelines.core.settings import KafkaSettings
from pipelines.kafka.consumer import GroupConsumer
from pipelines.kafka.dead_letters import DeadLetterPublisher
from pipelines.kafka.topics import ensure_topics, project_topics, raw_topics
from pipelines.lake.objects import ObjectStore

log = logging.getLogger(__name__)

_MAX_POLL_WAIT_S = 0.5

ObjectHook = Callable[[str], None]


class LanderError(RwaError):
    """The lander cannot go on (no partitions assigned within the timeout)."""


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
    #: landings (each a manifest write, an object write and one commit for its batches)
    landings: int = 0
    commits_refused: int = 0
    #: the whole run, group join and idle wait included
    seconds: float = 0.0
    #: from the first record consumed to the end of the last batch landed and committed
    active_seconds: float = 0.0


@dataclass
class _Decoding:
    """A poll whose values are being checked (:class:`FolderDecoder`)."""

    polled: Mapping[TopicPartition, Sequence[Any]]
    #: partitions reset since the poll: their records are dropped
    stale: set[TopicPartition] = field(default_factory=set)
    #: the check's result (:meth:`FolderDecoder.folders`), once taken
    folders: Folders | None = None


class _Bodies(Mapping[str, bytes]):
    """Object key -> body, each joined from its lines when the store reads it. The store writes
    one object at a time, so each body reuses the memory of the one before; a landing's bodies
    joined all at once (about 20 MB) made the heap grow and the kernel fault fresh pages in
    for every landing: about 0.2 s of CPU per 300 MB landed."""

    def __init__(self, lines: dict[str, list[bytes]]) -> None:
        self._lines = lines

    def __getitem__(self, key: str) -> bytes:
        # The trailing empty line ends the last line: one copy of the lines, not two.
        return b"\n".join([*self._lines[key], b""])

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)


def _records(polled: Mapping[TopicPartition, Sequence[Any]]) -> list[Any]:
    return [record for records in polled.values() for record in records]


class BronzeLander:
    """Consumes the raw topics as group ``RWA_LANDER_GROUP_ID`` and lands them in ``store``.

    ``consumer_overrides`` are extra kafka-python consumer settings (group timeouts);
    ``after_object`` is called with each object key right after the object is written and before
    anything is committed (tests crash the process there).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        store: ObjectStore,
        *,
        topics: Sequence[str] | None = None,
        consumer_overrides: Mapping[str, Any] | None = None,
        after_object: ObjectHook | None = None,
        assignment_timeout_s: float = 60.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.topics = list(topics) if topics is not None else raw_topics()
        self.group_id = settings.lander_group_id
        self._after_object = after_object
        self._assignment_timeout_s = assignment_timeout_s
        ensure_topics(settings, [*self.topics, *project_topics(settings)])
        self._consumer = GroupConsumer(
            settings, self.group_id, self.topics, overrides=consumer_overrides
        )
        self._dead_letters = DeadLetterPublisher(settings, self.group_id)
        self._buffers: dict[TopicPartition, PartitionBuffer] = {}
        self._decoder = FolderDecoder(settings.lander_decode_processes)
        self._decoding: _Decoding | None = None  # the poll whose values are being checked
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
                self._consumer.subscribe()
                self._loop(started, stop_after_idle_s, max_records)
                self._add_decoded(self._take_decoded())
                self._flush_all()
        finally:
            self.close()
            self.report.seconds = time.monotonic() - started
        return self.report

    def _loop(self, started: float, idle_s: float | None, max_records: int | None) -> None:
        active_since: float | None = None  # first assignment, then the latest record
        while not self._stop.is_set():
            polled = self._consumer.poll(self._poll_timeout_ms())
            self._drop_reset_partitions()
            now = time.monotonic()
            if active_since is None and self._consumer.assignment():
                active_since = now
            if polled:
                if self._first_record_at is None:
                    self._first_record_at = now
                self.report.consumed += sum(len(records) for records in polled.values())
                active_since = now
            # The previous poll's values were checked while this one was fetched; this poll's
            # are sent to be checked before the previous one's are buffered, so the check
            # also overlaps the flushes (object writes) that buffering them may start.
            checked = self._take_decoded()
            if polled:
                self._decoder.submit(_records(polled))
                self._decoding = _Decoding(polled)
            self._add_decoded(checked)
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

    def _take_decoded(self) -> _Decoding | None:
        """The poll being checked, if any, with its folders once its check is done."""
        decoding, self._decoding = self._decoding, None
        if decoding is not None:
            decoding.folders = self._decoder.folders()
        return decoding

    def _add_decoded(self, decoding: _Decoding | None) -> None:
        """Buffer the records of a checked poll (:meth:`_take_decoded`)."""
        if decoding is None:
            return
        assert decoding.folders is not None
        folders = iter(decoding.folders)
        for tp, records in decoding.polled.items():
            mine = [next(folders) for _ in records]
            if tp in decoding.stale:
                continue  # revoked or reset meanwhile: the next owner reads them again
            for record in decode_records(records, mine):
                self._add(tp, record)

    def _poll_timeout_ms(self) -> int:
        """Wait for records at most until the next buffer is due for rotation."""
        wait = _MAX_POLL_WAIT_S
        for buffer in self._buffers.values():
            if buffer.forced_end is None:  # a buffer waiting for a manifest's end has no due time
                due = buffer.opened_at + self.settings.lander_max_interval_s - time.monotonic()
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
        self._consumer.close()
        self._dead_letters.close()
        self._decoder.close()

    # -- buffering ---------------------------------------------------------------------------

    def _add(self, tp: TopicPartition, record: ConsumedRecord) -> None:
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
            self._flush([tp])  # the manifest's range is complete (the log has a gap after it)
            buffer = self._buffers.get(tp)
        if buffer is None:
            buffer = self._buffers[tp] = PartitionBuffer([], opened_at=time.monotonic())
        buffer.records.append(record)
        buffer.size += record.size
        if self._is_full(buffer):
            self._flush([tp, *self._half_full(tp)])

    def _is_full(self, buffer: PartitionBuffer) -> bool:
        if buffer.forced_end is not None:
            return buffer.last_offset >= buffer.forced_end
        return (
            len(buffer.records) >= self.settings.lander_max_records
            or buffer.size >= self.settings.lander_max_bytes
        )

    def _half_full(self, full: TopicPartition) -> list[TopicPartition]:
        """The other buffers holding at least half a batch: they land with ``full``, so that a
        landing's fixed costs (two ``syncfs`` for the manifests, two for the objects, a commit
        round trip) are shared instead of paid again when each fills up on its own."""
        return [
            tp
            for tp, buffer in self._buffers.items()
            if tp != full
            and buffer.forced_end is None
            and (
                2 * len(buffer.records) >= self.settings.lander_max_records
                or 2 * buffer.size >= self.settings.lander_max_bytes
            )
        ]

    def _rotate_due(self, now: float) -> None:
        due = [
            tp
            for tp, buffer in self._buffers.items()
            # A buffer waiting for a manifest's end is closed by that end only.
            if buffer.forced_end is None
            and now - buffer.opened_at >= self.settings.lander_max_interval_s
        ]
        self._flush(due)

    def _drop_reset_partitions(self) -> None:
        for tp in self._consumer.reset_partitions():
            self._buffers.pop(tp, None)
            if self._decoding is not None:
                self._decoding.stale.add(tp)

    def _flush_all(self) -> None:
        # A buffer waiting for a manifest's end stays: an earlier run landed a longer batch
        # from there, which is replayed next time.
        self._flush([tp for tp, buffer in self._buffers.items() if buffer.forced_end is None])

    # -- landing -----------------------------------------------------------------------------

    def _flush(self, tps: Sequence[TopicPartition]) -> None:
        """Land the buffers of ``tps`` as batches (one or more each), commit them together."""
        pending = {tp: self._buffers.pop(tp) for tp in tps}
        landing: list[tuple[TopicPartition, BatchManifest, list[ConsumedRecord]]] = []
        while pending:  # one round per batch a buffer holds: usually one
            for tp, (manifest, mine) in self._claim(pending).items():
                buffer = pending.pop(tp)
                records = buffer.records
                if manifest.last_offset > records[-1].offset:
                    # An earlier run landed a longer batch from this offset: wait for its end.
                    size = sum(r.size for r in records)
                    self._buffers[tp] = PartitionBuffer(
                        records, buffer.opened_at, size, manifest.last_offset
                    )
                    continue
                count = sum(1 for r in records if r.offset <= manifest.last_offset)
                if not mine:  # a manifest of this flush describes its buffer by construction
                    self._check_replay(manifest, records[:count])
                landing.append((tp, manifest, records[:count]))
                if count < len(records):
                    pending[tp] = PartitionBuffer(records[count:], buffer.opened_at)
        if not landing:
            return
        offsets = {tp: manifest.last_offset + 1 for tp, manifest, _ in landing}  # the last wins
        committed = self._consumer.commit_after(
            offsets, functools.partial(self._write_batches, landing)
        )
        self.report.landings += 1
        if self._first_record_at is not None:
            self.report.active_seconds = time.monotonic() - self._first_record_at
        if not committed:
            self.report.commits_refused += 1
            for tp in offsets:
                self._buffers.pop(tp, None)  # the group moved on; the next owner replays it

    def _claim(
        self, buffers: Mapping[TopicPartition, PartitionBuffer]
    ) -> dict[TopicPartition, tuple[BatchManifest, bool]]:
        """Each buffer's batch manifest and True, or the one an earlier run wrote for the same
        first offset and False (all claimed in one write)."""
        mine = {tp: BatchManifest.of(tp, buffer.records) for tp, buffer in buffers.items()}
        written = self.store.put_many_if_absent({m.key: m.encode() for m in mine.values()})
        claims: dict[TopicPartition, tuple[BatchManifest, bool]] = {}
        for tp, manifest in mine.items():
            if written[manifest.key]:
                claims[tp] = (manifest, True)
            else:
                claims[tp] = (self._theirs(tp, manifest), False)
        return claims

    def _theirs(self, tp: TopicPartition, mine: BatchManifest) -> BatchManifest:
        theirs = BatchManifest.decode(self.store.get(mine.key))
        if theirs.first_record_sha256 != mine.first_record_sha256:
            raise LanderConflictError(
                f"{mine.key} describes a different record at offset {mine.first_offset} of "
                f"{tp.topic}[{tp.partition}]: were the topic's offsets reused (topic recreated)?"
            )
        log.info("replaying %s: offsets %s..%s", mine.key, theirs.first_offset, theirs.last_offset)
        return theirs

    def _check_replay(self, manifest: BatchManifest, batch: list[ConsumedRecord]) -> None:
        tp = TopicPartition(manifest.topic, manifest.partition)
        if manifest.records != len(batch) or manifest.objects != object_keys(tp, batch):
            raise LanderConflictError(
                f"offsets {manifest.first_offset}..{manifest.last_offset} of "
                f"{manifest.topic}[{manifest.partition}] hold other records than when they were "
                f"landed: were the topic's offsets reused (topic recreated)?"
            )

    def _write_batches(
        self, landing: list[tuple[TopicPartition, BatchManifest, list[ConsumedRecord]]]
    ) -> None:
        """Land the batches' objects, then publish their dead letters: what is durable before
        their offsets are committed."""
        self._land([(tp, batch) for tp, _, batch in landing])
        for tp, _, batch in landing:
            self.report.dead_letters += self._dead_letters.send(tp, dead_letters(batch))
            self.report.batches += 1

    def _land(self, batches: list[tuple[TopicPartition, list[ConsumedRecord]]]) -> None:
        """Write the objects of all ``batches`` in one go (durable when ``put_many_if_absent``
        returns: the store pays its durability wait once for all of them), then check those
        found there."""
        groups = {
            (key, tp): lines
            for tp, batch in batches
            for key, lines in group_objects(tp, batch).items()
        }
        bodies = _Bodies({key: lines for (key, _), lines in groups.items()})
        written = self.store.put_many_if_absent(bodies)
        for (key, tp), lines in groups.items():
            if written[key]:
                self.report.objects_written += 1
                self.report.landed += len(lines)
            elif self.store.get(key) == bodies[key]:
                self.report.objects_present += 1
                self.report.replayed += len(lines)
            else:
                raise LanderConflictError(
                    f"bronze object {key} exists with other content: were the offsets of "
                    f"{tp.topic}[{tp.partition}] reused (topic recreated)?"
                )
            if self._after_object is not None:
                self._after_object(key)
