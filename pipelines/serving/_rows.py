"""Conversions between the store contract's Python/Arrow values and database rows, and the
wording of errors: shared by both stores so that they accept, return and report alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.errors import DataContractError
from pipelines.reference.model import Asset
from pipelines.serving._sql import ASSET_COLUMNS, OHLCV_KEY
from pipelines.serving.base import OHLCV_SCHEMA, RESOLUTIONS, OhlcvBar

#: Key of :meth:`ServingStore.table_counts` for the bars of one resolution.
OHLCV_COUNT_KEY = "ohlcv_{resolution}"


def prepare_bars(bars: pa.Table) -> pa.Table:
    """``bars`` cast to :data:`OHLCV_SCHEMA`, or DataContractError naming the offending field.

    Checked here, not left to the database, because both engines reject a batch that hits the
    same key twice with an opaque error, and a null would surface as a constraint violation.
    """
    missing = [name for name in OHLCV_SCHEMA.names if name not in bars.column_names]
    if missing:
        raise DataContractError(f"OHLCV bars lack column(s) {missing}")
    selected = bars.select(OHLCV_SCHEMA.names)
    for name in OHLCV_SCHEMA.names:
        if selected.column(name).null_count:
            raise DataContractError(f"OHLCV bars have nulls in {name!r}")
    try:
        table = selected.cast(OHLCV_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataContractError(f"OHLCV bars do not match the schema: {exc}") from exc
    _check_resolutions(table)
    _check_unique_keys(table)
    return table


def _check_resolutions(table: pa.Table) -> None:
    found = {str(value) for value in pc.unique(table.column("resolution")).to_pylist()}
    unknown = sorted(found - set(RESOLUTIONS))
    if unknown:
        raise DataContractError(
            f"OHLCV bars have unknown resolution(s) {unknown} in 'resolution'; "
            f"expected one of {list(RESOLUTIONS)}"
        )


def _check_unique_keys(table: pa.Table) -> None:
    keys = table.group_by(list(OHLCV_KEY)).aggregate([([], "count_all")])
    if keys.num_rows == table.num_rows:
        return
    repeated = pc.greater(keys.column("count_all"), pa.scalar(1))
    first = keys.filter(repeated).slice(0, 1).to_pylist()[0]
    raise DataContractError(
        f"OHLCV bars repeat the key (asset_id, resolution, ts) "
        f"{(first['asset_id'], first['resolution'], first['ts'])}: "
        f"{table.num_rows - keys.num_rows} duplicate row(s) in one batch"
    )


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


BarRow = tuple[dt.datetime, float, float, float, float, float]


def bars_from_rows(rows: Iterable[BarRow]) -> list[OhlcvBar]:
    """Rows of (ts, open, high, low, close, volume) as bars stamped with ``datetime.UTC``,
    whatever tzinfo class the driver used (DuckDB returns pytz's, psycopg its own)."""
    return [
        OhlcvBar(ts if ts.tzinfo is dt.UTC else ts.astimezone(dt.UTC), *values)
        for ts, *values in rows
    ]


def counts(asset_count: int, ohlcv_counts: Iterable[tuple[str, int]]) -> dict[str, int]:
    """``table_counts`` result: assets, then every resolution (0 when it has no bars)."""
    per_resolution = dict(ohlcv_counts)
    result = {"assets": asset_count}
    for resolution in RESOLUTIONS:
        result[OHLCV_COUNT_KEY.format(resolution=resolution)] = per_resolution.get(resolution, 0)
    return result


def one_line(exc: BaseException) -> str:
    """A driver's (often multi-line) error message on one line, for one-line failures."""
    return " ".join(str(exc).split())
