"""Bronze envelopes read back as a table: the raw responses of one dataset, pruned by the
``source=/dataset=/date=`` folders of the bronze layout before any object is fetched.

Each row is one envelope (:class:`~pipelines.contracts.envelope.RawEnvelope`) with where it
lies: ``bronze_file`` (the object key silver records as lineage) and ``line`` (1-based).
``params`` and ``payload`` stay JSON text, exactly as fetched.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipelines.contracts.envelope import BRONZE_PREFIX

if TYPE_CHECKING:
    from pipelines.lake.objects import ObjectStore

UTC_TS = pa.timestamp("us", tz="UTC")
_FIELDS: list[pa.Field[Any]] = [
    pa.field("source", pa.string()),
    pa.field("dataset", pa.string()),
    pa.field("date", pa.date32()),
    pa.field("endpoint", pa.string()),
    pa.field("params", pa.string()),
    pa.field("fetched_at", UTC_TS),
    pa.field("ingest_id", pa.string()),
    pa.field("schema_version", pa.int64()),
    pa.field("payload", pa.string()),
    pa.field("bronze_file", pa.string()),
    pa.field("line", pa.int64()),
]
ENVELOPE_SCHEMA = pa.schema(_FIELDS)

_KEY = re.compile(
    rf"^{BRONZE_PREFIX}/source=(?P<source>[^/]+)/dataset=(?P<dataset>[^/]+)"
    r"/date=(?P<date>\d{4}-\d{2}-\d{2})/[^/]+$"
)


@dataclass(frozen=True, slots=True)
class EnvelopeRead:
    """The envelopes read and the object keys they came from (the objects the pruning kept)."""

    table: pa.Table
    files: tuple[str, ...]


def object_keys(
    store: ObjectStore,
    dataset: str,
    *,
    sources: Sequence[str] = (),
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
) -> list[str]:
    """Keys of the bronze objects of ``dataset`` fetched from ``first_day`` to ``last_day``
    (inclusive, either open) by ``sources`` (all when empty): decided from the key alone."""
    prefixes = [f"{BRONZE_PREFIX}/source={s}/dataset={dataset}/" for s in sources] or [
        f"{BRONZE_PREFIX}/"
    ]
    keys = []
    for prefix in prefixes:
        for key in store.list(prefix):
            match = _KEY.match(key)
            if match is None or match["dataset"] != dataset:
                continue
            day = dt.date.fromisoformat(match["date"])
            if (first_day is None or day >= first_day) and (last_day is None or day <= last_day):
                keys.append(key)
    return keys


def read_envelopes(store: ObjectStore, keys: Sequence[str]) -> EnvelopeRead:
    """The envelopes of the objects at ``keys``, one row per line."""
    rows = [row for key in keys for row in _rows(key, store.get(key))]
    return EnvelopeRead(pa.Table.from_pylist(rows, schema=ENVELOPE_SCHEMA), tuple(keys))


def _rows(key: str, body: bytes) -> Iterator[dict[str, object]]:
    match = _KEY.match(key)
    day = dt.date.fromisoformat(match["date"]) if match else None
    for number, text in enumerate(body.decode().splitlines(), start=1):
        if not text.strip():
            continue
        envelope = json.loads(text)
        yield {
            "source": envelope.get("source"),
            "dataset": envelope.get("dataset"),
            "date": day,
            "endpoint": envelope.get("endpoint"),
            "params": json.dumps(envelope.get("params"), sort_keys=True),
            "fetched_at": dt.datetime.fromisoformat(envelope["fetched_at"]),
            "ingest_id": envelope.get("ingest_id"),
            "schema_version": envelope.get("schema_version"),
            "payload": json.dumps(envelope.get("payload"), sort_keys=True),
            "bronze_file": key,
            "line": number,
        }
