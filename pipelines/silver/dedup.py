"""In-batch deduplication of silver rows, in Arrow on the driver: latest fetch wins."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def latest_per_key(rows: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """One row per key: the latest ``fetched_at``, ties broken by the larger ``ingest_id`` (the
    rule the MERGE applies against the table too, so the outcome never depends on the order
    records arrive in). Keys are never null here (the parsers and the gate refuse such rows)."""
    if rows.num_rows < 2:
        return rows
    ordered = rows.sort_by(
        [(k, "ascending") for k in keys]
        + [("fetched_at", "descending"), ("ingest_id", "descending")]
    ).combine_chunks()
    return ordered.filter(_first_of_each_key(ordered, keys))


def _first_of_each_key(ordered: pa.Table, keys: tuple[str, ...]) -> pa.BooleanArray:
    """True where a row's key differs from the previous row's (rows sorted by key)."""
    n = ordered.num_rows
    changed = np.zeros(n - 1, dtype=bool)
    for key in keys:
        values = ordered.column(key).to_numpy()
        changed |= values[1:] != values[:-1]
    first: pa.BooleanArray = pa.array(np.concatenate([[True], changed]), pa.bool_())
    return first
