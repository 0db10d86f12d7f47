"""Rows in and out of the serving store: the checks a load's Arrow rows pass before they reach
SQL, the conversions between database rows and the store's Python/Arrow values, and the wording
of errors; one set for both engines, so that they accept, return and report alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts.reference import Asset
from pipelines.contracts.served import (
    ASSET_COLUMNS,
    COUNTED_TABLES,
    LOADED_RESOLUTIONS,
    OHLCV,
    RESOLUTIONS,
    ServedTable,
)
from pipelines.core.errors import DataContractError
from pipelines.serving.store import OhlcvBar

#: Key of :meth:`ServingStore.table_counts` for the bars of one resolution.
OHLCV_COUNT_KEY = "ohlcv_{resolution}"


def prepare_rows(rows: pa.Table, table: ServedTable) -> pa.Table:
    """``rows`` cast to ``table.schema`` (extra columns dropped), or DataContractError naming
    the offending field.

    Checked here, not left to the database, because both engines reject a batch that hits the
    same key twice with an opaque error, and a null would surface as a constraint violation.
    Nulls are refused where ``table.schema`` declares the field not nullable, and NaN or
    infinities in any floating-point column always: both engines would store them, and JSON
    has no way to serve them (they would reach an API client as ``null`` or not at all).
    """
    schema = table.schema
    missing = [name for name in schema.names if name not in rows.column_names]
    if missing:
        raise DataContractError(f"{table.label} lack column(s) {missing}")
    selected = rows.select(schema.names)
    for field in schema:
        if not field.nullable and selected.column(field.name).null_count:
            raise DataContractError(f"{table.label} have nulls in {field.name!r}")
    try:
        prepared = selected.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataContractError(f"{table.label} do not match the schema: {exc}") from exc
    _check_finite(prepared, table)
    if table.name == OHLCV.name:
        _check_resolutions(prepared)
    _check_unique_keys(prepared, table)
    return prepared


def _check_finite(rows: pa.Table, table: ServedTable) -> None:
    """Refuse NaN and infinities, naming the table, the column and the first offending key."""
    for field in rows.schema:
        if not pa.types.is_floating(field.type):
            continue
        bad = pc.invert(pc.is_finite(rows.column(field.name)))  # null where the value is null
        count = pc.sum(bad.cast(pa.int64())).as_py() or 0
        if count:
            first = rows.filter(bad).slice(0, 1).to_pylist()[0]
            raise DataContractError(
                f"{table.label} (table {table.name!r}) have {count} non-finite value(s) in "
                f"{field.name!r}, e.g. {first[field.name]} at "
                f"({', '.join(table.key)}) = {tuple(first[name] for name in table.key)}; "
                "only finite numbers (or null where the column allows it) are served"
            )


def _check_resolutions(bars: pa.Table) -> None:
    found = {str(value) for value in pc.unique(bars.column("resolution")).to_pylist()}
    unknown = sorted(found - set(LOADED_RESOLUTIONS))
    if unknown:
        raise DataContractError(
            f"OHLCV bars have unknown resolution(s) {unknown} in 'resolution'; "
            f"expected one of {list(LOADED_RESOLUTIONS)}"
        )


def _check_unique_keys(rows: pa.Table, table: ServedTable) -> None:
    keys = rows.group_by(list(table.key)).aggregate([([], "count_all")])
    if keys.num_rows == rows.num_rows:
        return
    repeated = pc.greater(keys.column("count_all"), pa.scalar(1))
    first = keys.filter(repeated).slice(0, 1).to_pylist()[0]
    raise DataContractError(
        f"{table.label} repeat the key ({', '.join(table.key)}) "
        f"{tuple(first[name] for name in table.key)}: "
        f"{rows.num_rows - keys.num_rows} duplicate row(s) in one batch"
    )


def table_from_rows(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Rows fetched in ``schema``'s column order as an Arrow table of that schema. Time stamps
    of any tzinfo class (DuckDB returns pytz's, psycopg its own) become the same UTC instants."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [
        pa.array(column, type=field.type) for column, field in zip(columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def asset_row(asset: Asset) -> tuple[str | None, ...]:
    """The ``assets`` row of one asset: main columns, then the full model as JSON."""
    values = tuple(getattr(asset, column) for column in ASSET_COLUMNS)
    return (*values, asset.model_dump_json())


def asset_from_doc(doc: str) -> Asset:
    return Asset.model_validate_json(doc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A query bound in UTC; a naive datetime is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


BarRow = tuple[dt.datetime, float, float, float, float, float | None]


def bars_from_rows(rows: Iterable[BarRow]) -> list[OhlcvBar]:
    """Rows of (ts, open, high, low, close, volume) as bars stamped with ``datetime.UTC``,
    whatever tzinfo class the driver used."""
    return [
        OhlcvBar(ts if ts.tzinfo is dt.UTC else ts.astimezone(dt.UTC), o, h, low, c, volume)
        for ts, o, h, low, c, volume in rows
    ]


def counts(
    per_resolution: Iterable[tuple[str, int]], per_table: Iterable[tuple[str, int]]
) -> dict[str, int]:
    """``table_counts`` result: every resolution (0 when it has no bars), then every table of
    :data:`COUNTED_TABLES`."""
    bars = dict(per_resolution)
    tables = dict(per_table)
    result = {OHLCV_COUNT_KEY.format(resolution=r): bars.get(r, 0) for r in RESOLUTIONS}
    result.update({name: tables[name] for name in COUNTED_TABLES})
    return result


def one_line(exc: BaseException) -> str:
    """A driver's (often multi-line) error message on one line, for one-line failures."""
    return " ".join(str(exc).split())
