"""Mirror bronze objects from a remote object store into a local folder for Spark.

Spark's file source on these machines has no S3 filesystem (no hadoop-aws JARs), so the silver
stream reads a local mirror. Bronze objects are immutable, so a key already mirrored is never
fetched again; each download lands under a hidden name and is renamed into place, so the stream
never sees a partial file.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from pipelines.contracts.envelope import BRONZE_PREFIX
from pipelines.lake.objects import ObjectStore


def mirror_bronze(store: ObjectStore, local_root: Path, dataset: str | None = None) -> int:
    """Copy bronze objects (of one dataset, or all) missing locally; returns how many."""
    copied = 0
    for key in store.list(BRONZE_PREFIX):
        if dataset is not None and f"/dataset={dataset}/" not in key:
            continue
        target = local_root / key
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(store.get(key))
        tmp.replace(target)
        copied += 1
    return copied
