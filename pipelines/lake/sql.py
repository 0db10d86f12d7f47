"""SQL over the lake: DuckDB, in memory, over the Arrow datasets of the tables a query names.

A query names tables as ``layer.name`` (``gold.ohlcv_1d``); each one named is registered as a
view over its current snapshot's :class:`pyarrow.dataset.Dataset` (bronze: the envelopes read
into memory). Nothing is read before DuckDB runs the query, and DuckDB pushes its projections
and filters into the dataset scan, so partitions and files the filter excludes stay unread.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from pipelines.lake.errors import UnknownTableError
from pipelines.lake.tables import LAKE_TABLES, LAYERS

if TYPE_CHECKING:
    from pipelines.lake.access import Lake

_NAMED = re.compile(rf"\b({'|'.join(LAYERS)})\.([A-Za-z_][A-Za-z0-9_]*)\b", re.IGNORECASE)
_MISSING = re.compile(r"Table with name (\w+) does not exist", re.IGNORECASE)


def run_sql(lake: Lake, query: str) -> pa.Table:
    """The answer of ``query`` over the lake tables it names, as Arrow.

    Raises :class:`UnknownTableError` for a ``layer.name`` that is no lake table (naming the
    closest ones); DuckDB's own errors (syntax, columns) pass through."""
    named = {f"{m[1].lower()}/{m[2]}" for m in _NAMED.finditer(query)}
    with duckdb.connect(":memory:") as connection:
        for layer in LAYERS:
            connection.execute(f"CREATE SCHEMA {layer}")
        for name in sorted(named):
            if name not in LAKE_TABLES:
                continue  # DuckDB says so below, or it was no table (a column, a literal)
            schema, table = name.split("/")
            connection.register(f"{schema}__{table}", lake.scan(name).dataset)
            connection.execute(f'CREATE VIEW {schema}."{table}" AS SELECT * FROM {schema}__{table}')
        try:
            answer = connection.sql(query)
            rows: pa.Table = pa.table({}) if answer is None else answer.to_arrow_table()
            return rows
        except duckdb.CatalogException as error:
            missing = _MISSING.search(str(error))
            unknown = sorted(n for n in named if n not in LAKE_TABLES)
            if missing is None and not unknown:
                raise
            word = unknown[0] if unknown else missing.group(1) if missing else ""
            raise UnknownTableError(word.replace("/", "."), _dotted()) from error


def _dotted() -> list[str]:
    return [name.replace("/", ".") for name in LAKE_TABLES]
