"""Arrow columns encoded as PostgreSQL's binary COPY format, column-wise in numpy.

Encoding row by row in Python (psycopg's ``copy.write_row``) costs a Python tuple, a datetime
and a float object per value: about as long as the server takes to store the rows, on the
same cores. Here the rows are grouped by *layout* (the byte length of each variable-width
value, and which values are null); the rows of one layout all have the same size, so they are
one numpy structured array whose fields are the big-endian length words and values of the COPY
format, filled a column at a time. A load has few layouts (asset ids of a few lengths, a
nullable column null or not); where a table has too many to be worth it (free text of every
length) :func:`encode` returns None and the caller falls back to row-wise COPY.

The format (PostgreSQL docs, "COPY ... BINARY"): a signature and header, then per row an
int16 field count and per field an int32 byte length (-1 for null) and the value in its
type's binary send format; then an int16 -1 trailer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
#: Most row layouts one batch may have before :func:`encode` gives up: each costs a few
#: numpy calls per column, which row-wise COPY beats when groups hold a handful of rows.
MAX_LAYOUTS = 256
#: PostgreSQL's epoch (2000-01-01) in Unix microseconds and days.
_PG_EPOCH_US = 946_684_800_000_000
_PG_EPOCH_DAYS = 10_957
#: jsonb's binary format: a version byte, then the JSON text.
_JSONB_VERSION = 1

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Column:
    """One column ready to place: ``fixed`` values (big-endian numpy, any value where null)
    or variable-width bytes (``data`` and ``offsets`` of UTF-8 text, plus a ``prefix`` byte
    for jsonb); ``lengths`` per row is the COPY length word (-1 where null)."""

    lengths: IntArray
    fixed: npt.NDArray[Any] | None = None
    text: Any = None  # a pyarrow StringArray
    prefix: int | None = None


def encode(rows: pa.Table, json_columns: Collection[str] = ()) -> list[memoryview] | None:
    """``rows`` as a binary COPY stream (signature to trailer) in parts to send in order
    (numpy's buffers, not copied again into one string), or None when the rows have
    more than :data:`MAX_LAYOUTS` layouts. ``json_columns`` hold JSON text sent as jsonb.
    Supported types: string, timestamp (any unit; sent as timestamptz), float64, int64,
    int32, date32, bool; anything else raises TypeError."""
    if rows.num_rows == 0:
        return [memoryview(SIGNATURE + TRAILER)]
    columns = [_column(rows.column(name), name in json_columns) for name in rows.column_names]
    layout, count = _layouts(columns, rows.num_rows)
    if count > MAX_LAYOUTS:
        return None
    parts = [memoryview(SIGNATURE)]
    parts.extend(_encode_group(columns, group) for group in _groups(layout, count))
    parts.append(memoryview(TRAILER))
    return parts


def _column(chunked: pa.ChunkedArray[Any], is_json: bool) -> _Column:
    array: Any = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    valid = _numpy(array.is_valid()).astype(bool)
    if pa.types.is_string(array.type):
        widths = _numpy(pc.fill_null(pc.binary_length(array), 0)).astype(np.int64)
        return _Column(
            np.where(valid, widths + (1 if is_json else 0), -1),
            text=array,
            prefix=_JSONB_VERSION if is_json else None,
        )
    fixed = _fixed_values(array)
    return _Column(np.where(valid, fixed.dtype.itemsize, -1).astype(np.int64), fixed=fixed)


def _numpy(values: Any) -> npt.NDArray[Any]:
    """An Arrow array's values in numpy (``Any``: pyarrow's stubs type compute results too
    loosely to call ``to_numpy`` on)."""
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _fixed_values(array: Any) -> npt.NDArray[Any]:
    """The values in big-endian send format; nulls become zeros (never sent)."""
    kind = array.type
    if pa.types.is_timestamp(kind):
        micros = _numpy(pc.fill_null(array.cast(pa.int64()), 0))
        scale = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[kind.unit]
        if scale is None:
            raise TypeError("nanosecond time stamps: cast to microseconds first")
        return (micros * scale - _PG_EPOCH_US).astype(">i8")
    if pa.types.is_date32(kind):
        days = _numpy(pc.fill_null(array.cast(pa.int32()), 0)).astype(np.int64)
        return (days - _PG_EPOCH_DAYS).astype(">i4")
    if pa.types.is_boolean(kind):
        return _numpy(pc.fill_null(array, False)).astype(np.uint8)
    big_endian = {pa.float64(): ">f8", pa.int64(): ">i8", pa.int32(): ">i4"}.get(kind)
    if big_endian is None:
        raise TypeError(f"no binary COPY encoding for Arrow type {kind}")
    return _numpy(pc.fill_null(array, 0)).astype(big_endian)


def _layouts(columns: list[_Column], n: int) -> tuple[IntArray, int]:
    """Each row's layout number and the number of layouts: the distinct tuples of length
    words of the columns whose length varies, as one mixed-radix integer per row."""
    varying = [column.lengths for column in columns if np.any(column.lengths != column.lengths[0])]
    if not varying:
        return np.zeros(n, np.int64), 1
    code = np.zeros(n, np.int64)
    span = 1
    for lengths in varying:
        low = int(lengths.min())
        radix = int(lengths.max()) - low + 1
        span *= radix
        if span > 2**62:  # too many combinations to number: too many layouts anyway
            return code, MAX_LAYOUTS + 1
        code = code * radix + (lengths - low)
    _, inverse = np.unique(code, return_inverse=True)
    return inverse.astype(np.int64), int(inverse.max()) + 1


def _groups(layout: IntArray, count: int) -> Iterator[IntArray | None]:
    """Row numbers of each layout, in their original order within it; None for all rows
    (one layout: no gathering at all)."""
    if count == 1:
        yield None
        return
    order = np.argsort(layout, kind="stable")
    bounds = np.cumsum(np.bincount(layout, minlength=count))[:-1]
    yield from np.split(order, bounds)


def _encode_group(columns: list[_Column], rows: IntArray | None) -> memoryview:
    """The rows ``rows`` (None: all), which share one layout, as COPY tuples."""
    first = 0 if rows is None else int(rows[0])
    count = len(columns[0].lengths) if rows is None else len(rows)
    fields: list[tuple[str, Any]] = [("count", ">i2")]
    for i, column in enumerate(columns):
        fields.append((f"length{i}", ">i4"))
        length = int(column.lengths[first])
        if column.prefix is not None and length > 0:
            fields.append((f"prefix{i}", "u1"))
            length -= 1
        if length > 0:
            value = column.fixed.dtype if column.fixed is not None else ("u1", (length,))
            fields.append((f"value{i}", value))
    out = np.empty(count, np.dtype(fields))
    names = {name for name, _ in fields}
    out["count"] = len(columns)
    for i, column in enumerate(columns):
        out[f"length{i}"] = column.lengths[first]
        if f"prefix{i}" in names:
            out[f"prefix{i}"] = column.prefix
        if f"value{i}" not in names:
            continue
        if column.fixed is not None:
            out[f"value{i}"] = column.fixed if rows is None else column.fixed[rows]
        else:
            out[f"value{i}"] = _text_bytes(column, rows, out.dtype[f"value{i}"].shape[0])
    return out.view(np.uint8).data


def _text_bytes(column: _Column, rows: IntArray | None, width: int) -> npt.NDArray[np.uint8]:
    """The text of ``rows`` (None: all), each ``width`` bytes long, as a (rows, width) array:
    Arrow's take packs them back to back, so the data buffer is that array already."""
    assert column.text is not None
    text: Any = column.text if rows is None else column.text.take(rows)
    _, offsets, data = text.buffers()
    start = int(np.frombuffer(offsets, np.int32)[text.offset])
    packed = np.frombuffer(data, np.uint8)[start : start + len(text) * width]
    return packed.reshape(len(text), width)
