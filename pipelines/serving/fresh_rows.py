"""Which rows of a load cannot collide with a stored row: those the store may append as they
are (COPY speed) instead of upserting (staging, an anti-join, a key check per row).

A row can only conflict with a stored row of the same key, so with a stored row of the same
*series* (the key columns before the time column: ``asset_id, resolution`` for bars) at the
same time. The store reports, per series of the batch, the earliest and latest time it holds
(two index probes each); a row before the earliest or after the latest, or of a series the
store does not hold at all, is *fresh*. Rows inside a stored range go through the upsert even
where they fill a gap: the test is cheap and sound, not exhaustive. The common loads come out
right: a first load is all fresh, a daily load appends after the stored range, and a replay
lies wholly inside it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts.served import ServedTable

#: Names of the stored range's columns beside the series columns (not column names of any
#: served table).
EARLIEST = "__earliest"
LATEST = "__latest"
_ROW = "__row"

BoolArray = npt.NDArray[np.bool_]


def series_columns(table: ServedTable) -> tuple[str, ...]:
    """The key columns before the time column: a prefix of the primary key's index, so the
    store finds a series' earliest and latest time by an index probe each. Empty where the
    time column comes first (no served table; such a table gets no fast path)."""
    return table.key[: table.key.index(table.time_column)]


def series_of(rows: pa.Table, table: ServedTable) -> pa.Table:
    """The distinct series of ``rows``, for the store to look up."""
    columns = list(series_columns(table))
    return rows.select(columns).group_by(columns).aggregate([])


def fresh_mask(rows: pa.Table, table: ServedTable, stored: pa.Table) -> BoolArray:
    """True for each row of ``rows`` outside its series' stored range. ``stored``: the series
    columns, then :data:`EARLIEST` and :data:`LATEST` (null where the series has no rows) for
    each series of ``rows`` (or fewer: a series left out has no rows)."""
    if stored.column(EARLIEST).null_count == stored.num_rows:
        return np.ones(rows.num_rows, dtype=bool)  # no series stored yet: a first load
    columns = list(series_columns(table))
    numbered = rows.select([*columns, table.time_column]).append_column(
        _ROW, pa.array(np.arange(rows.num_rows, dtype=np.int64))
    )
    joined = numbered.join(stored, keys=columns, join_type="left outer")
    time = joined.column(table.time_column)
    earliest = joined.column(EARLIEST).cast(time.type)
    latest = joined.column(LATEST).cast(time.type)
    outside = pc.or_kleene(
        pc.is_null(earliest),
        pc.or_(pc.less(time, earliest), pc.greater(time, latest)),
    )
    mask = np.zeros(rows.num_rows, dtype=bool)
    mask[joined.filter(outside).column(_ROW).to_numpy()] = True
    return mask
