"""Landing raw envelopes in bronze.

Layout (:mod:`pipelines.contracts.envelope`):
``bronze/source=<source>/dataset=<dataset>/date=<fetch date>/<object>.jsonl``, one envelope per
line. Objects are immutable and their names are derived from what they hold:

* landed directly, an object is named by the hash of its content (``part-<sha256>.jsonl``), so
  landing the same input again finds every object already there and writes nothing;
* landed from Kafka, by ``(topic, partition, first offset)`` -- the Kafka Connect S3 sink's rule
  -- so a lander restarted after a crash rewrites the very same names.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipelines.contracts.envelope import (
    BRONZE_PREFIX,
    RawEnvelope,
    object_dataset,
    partition_prefix,
)
from pipelines.lake.objects import ObjectStore


@dataclass
class LandingReport:
    records: int = 0
    objects_written: int = 0
    objects_present: int = 0
    keys: list[str] = field(default_factory=list)

    def add(self, other: LandingReport) -> None:
        self.records += other.records
        self.objects_written += other.objects_written
        self.objects_present += other.objects_present
        self.keys.extend(other.keys)


class BronzeWriter:
    """Writes envelopes to an object store as immutable JSON-lines objects."""

    def __init__(self, store: ObjectStore, max_records_per_object: int = 2_000) -> None:
        if max_records_per_object < 1:
            raise ValueError("max_records_per_object must be >= 1")
        self.store = store
        self.max_records_per_object = max_records_per_object

    def land(self, envelopes: Iterable[RawEnvelope]) -> LandingReport:
        """Land envelopes in content-addressed objects; duplicates within the input collapse."""
        report = LandingReport()
        for prefix, lines in _group_by_partition(envelopes).items():
            # Sorted by ingest_id, so the objects depend on what is landed, not on its order.
            ordered = [lines[ingest_id] for ingest_id in sorted(lines)]
            step = self.max_records_per_object
            for chunk in (ordered[i : i + step] for i in range(0, len(ordered), step)):
                body = _encode(chunk)
                name = f"part-{hashlib.sha256(body).hexdigest()[:32]}.jsonl"
                report.add(self._put(f"{prefix}/{name}", body, len(chunk)))
        return report

    def land_named(self, key: str, lines: Sequence[str]) -> LandingReport:
        """Land pre-encoded lines under a caller-chosen deterministic key (the Kafka lander)."""
        return self._put(key, _encode(lines), len(lines))

    def _put(self, key: str, body: bytes, records: int) -> LandingReport:
        written = self.store.put_if_absent(key, body)
        return LandingReport(
            records=records if written else 0,
            objects_written=int(written),
            objects_present=int(not written),
            keys=[key],
        )


def _group_by_partition(envelopes: Iterable[RawEnvelope]) -> dict[str, dict[str, str]]:
    """partition prefix -> ingest_id -> JSON line."""
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    for envelope in envelopes:
        prefix = partition_prefix(
            envelope.source, envelope.dataset, envelope.fetched_date.isoformat()
        )
        groups[prefix][envelope.ingest_id] = envelope.to_json_line()
    return groups


def _encode(lines: Iterable[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def bronze_inventory(store: ObjectStore) -> dict[str, tuple[int, int]]:
    """dataset -> (objects, records) over all of bronze."""
    inventory: dict[str, tuple[int, int]] = {}
    for key in store.list(BRONZE_PREFIX):
        dataset = object_dataset(key) or "?"
        objects, records = inventory.get(dataset, (0, 0))
        inventory[dataset] = (objects + 1, records + store.get(key).count(b"\n"))
    return inventory
