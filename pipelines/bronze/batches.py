"""What the bronze lander lands: decoded records, their batches, object names and manifests.

Object names
    A batch is split by bronze partition (source, dataset, fetch date), one object per group::

        bronze/source=<s>/dataset=<d>/date=<YYYY-MM-DD>/<topic>+<partition>+<offset:020d>.jsonl

    where ``offset`` is the offset of the group's first record; lines are in offset order and
    are the canonical envelope lines (``RawEnvelope.to_json_line``), so a replay produces
    byte-identical objects. A consumed value that already is its canonical line is landed as
    it is (:mod:`pipelines.bronze.canonical`); any other is validated and re-serialised.

Batch manifests
    ``_lander/<topic>/<partition>/<first offset:020d>.json`` (outside ``bronze/``) records a
    batch's last offset, its record count, its object keys and a fingerprint of its first
    record; :mod:`pipelines.bronze.lander` explains why they keep rotation exactly-once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from kafka import TopicPartition
from pydantic import ValidationError

from pipelines.bronze.canonical import SAFE_SOURCE, canonical_folders
from pipelines.contracts.envelope import RawEnvelope, partition_prefix
from pipelines.kafka.dead_letters import DeadLetter

MANIFEST_PREFIX = "_lander"


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """One consumed record: an envelope line (UTF-8, no newline) bound for ``folder``, or a
    dead letter."""

    offset: int
    size: int
    line: bytes | None = None
    folder: str | None = None
    dead_letter: DeadLetter | None = None

    @property
    def fingerprint(self) -> str:
        if self.line is not None:
            data = self.line
        else:
            data = (self.dead_letter.value if self.dead_letter else None) or b""
        return hashlib.sha256(data).hexdigest()


def decode_records(
    consumed: Sequence[Any], folders: Sequence[str | None] | None = None
) -> list[ConsumedRecord]:
    """Polled kafka-python records (``key``, ``value``, ``offset``) decoded a batch at a time:
    values that already are canonical envelope lines are kept as they are, every other one
    goes through :func:`decode_record` (re-serialised, or a dead letter with its reason).
    ``folders`` are their :func:`canonical_folders` when already computed (in a worker)."""
    if folders is None:
        folders = canonical_folders([record.value for record in consumed])
    return [
        decode_record(record.key, record.value, record.offset)
        if folder is None
        else ConsumedRecord(record.offset, len(record.value) + 1, line=record.value, folder=folder)
        for record, folder in zip(consumed, folders, strict=True)
    ]


def decode_record(key: bytes | None, value: bytes | None, offset: int) -> ConsumedRecord:
    """A consumed value as an envelope line, or as a dead letter with the reason: the full
    path (a pydantic model per record), for values that are not canonical lines already."""
    size = len(value or b"")

    def dead(reason: str) -> ConsumedRecord:
        return ConsumedRecord(offset, size, dead_letter=DeadLetter(offset, key, value, reason))

    if value is None:
        return dead("empty value (tombstone)")
    try:
        envelope = RawEnvelope.model_validate_json(value)
    except ValidationError as error:
        return dead(_validation_reason(error))
    if not SAFE_SOURCE.fullmatch(envelope.source):
        return dead(f"source {envelope.source!r} is not usable as a bronze partition folder")
    line = envelope.to_json_line().encode()
    folder = partition_prefix(envelope.source, envelope.dataset, envelope.fetched_date.isoformat())
    return ConsumedRecord(offset, len(line) + 1, line=line, folder=folder)


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


def dead_letters(batch: list[ConsumedRecord]) -> list[DeadLetter]:
    return [r.dead_letter for r in batch if r.dead_letter is not None]


@dataclass
class PartitionBuffer:
    """Records of one partition waiting to be landed as a batch."""

    records: list[ConsumedRecord]
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

    @classmethod
    def of(cls, tp: TopicPartition, records: list[ConsumedRecord]) -> BatchManifest:
        """The manifest of a batch of ``records`` consumed from ``tp``."""
        return cls(
            topic=tp.topic,
            partition=tp.partition,
            first_offset=records[0].offset,
            last_offset=records[-1].offset,
            records=len(records),
            dead_letters=len(dead_letters(records)),
            objects=object_keys(tp, records),
            first_record_sha256=records[0].fingerprint,
        )

    @property
    def key(self) -> str:
        return manifest_key(self.topic, self.partition, self.first_offset)

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


def group_objects(tp: TopicPartition, batch: list[ConsumedRecord]) -> dict[str, list[bytes]]:
    """Object key -> lines: the batch's envelopes split by bronze partition folder, each group
    named after its first record's offset."""
    by_folder: dict[str, tuple[int, list[bytes]]] = {}
    for record in batch:
        if record.folder is None:
            continue
        group = by_folder.get(record.folder)
        if group is None:
            group = by_folder[record.folder] = (record.offset, [])
        if record.line is not None:
            group[1].append(record.line)
    return {
        object_key(folder, tp.topic, tp.partition, first): lines
        for folder, (first, lines) in by_folder.items()
    }


def object_keys(tp: TopicPartition, batch: list[ConsumedRecord]) -> list[str]:
    """The keys of :func:`group_objects`, sorted, without gathering the lines (a manifest
    needs only the names)."""
    first: dict[str, int] = {}
    for record in batch:
        if record.folder is not None:
            first.setdefault(record.folder, record.offset)
    return sorted(object_key(folder, tp.topic, tp.partition, o) for folder, o in first.items())
