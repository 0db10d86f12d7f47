"""Both stores' live SQL schema against the served tables' declarations
(``pipelines.contracts.served``): every loaded table, read back from the database's catalog,
has exactly the declared columns, types, nullability, JSON columns and key, in both dialects.
The migrations (``pipelines.serving.schema``) are written out by hand, since a released one
never changes; this is what keeps them from drifting from the declarations."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from pipelines.contracts.served import ASSET_COLUMNS, ASSETS, LOADED_TABLES, UTC_TS, ServedTable
from pipelines.serving.sql_store import SqlStore
from pipelines.serving.store import ServingStore

#: Arrow type of each SQL type the catalogs name (DuckDB's upper-case names, PostgreSQL's
#: lower-case ones, both lowered here).
ARROW_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "text": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
    "timestamp with time zone": UTC_TS,
    "double": pa.float64(),
    "double precision": pa.float64(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
}
JSON_TYPES = {"json", "jsonb"}

COLUMNS_SQL = """
SELECT column_name, data_type, is_nullable FROM information_schema.columns
WHERE table_name = '{table}' ORDER BY ordinal_position"""
PRIMARY_KEY_SQL = """
SELECT k.column_name FROM information_schema.table_constraints c
JOIN information_schema.key_column_usage k
  ON k.constraint_name = c.constraint_name AND k.table_name = c.table_name
WHERE c.table_name = '{table}' AND c.constraint_type = 'PRIMARY KEY'
ORDER BY k.ordinal_position"""


def _catalog(store: ServingStore, sql: str) -> list[tuple[Any, ...]]:
    assert isinstance(store, SqlStore)
    with store._cursor() as cur:  # the catalog is no part of the store contract
        return cur.execute(sql).fetchall()


def live_table(store: ServingStore, declared: ServedTable) -> ServedTable:
    """The table named like ``declared`` as the database describes it (the label and time
    column, which SQL does not know, taken from ``declared``)."""
    columns = _catalog(store, COLUMNS_SQL.format(table=declared.name))
    fields = [
        pa.field(name, ARROW_TYPES[sql_type.lower()], nullable=nullable == "YES")
        for name, sql_type, nullable in columns
    ]
    key = tuple(name for (name,) in _catalog(store, PRIMARY_KEY_SQL.format(table=declared.name)))
    json = frozenset(name for name, sql_type, _ in columns if sql_type.lower() in JSON_TYPES)
    return ServedTable(
        declared.name,
        declared.label,
        pa.schema(fields),
        key,
        time_column=declared.time_column,
        json_columns=json,
        references_assets=declared.references_assets,
    )


def by_name(schema: pa.Schema) -> dict[str, tuple[pa.DataType, bool]]:
    """Columns by name (the DDL's column order is free: reads name their columns)."""
    return {field.name: (field.type, field.nullable) for field in schema}


@pytest.mark.parametrize("declared", LOADED_TABLES, ids=lambda table: table.name)
def test_each_served_table_is_in_the_store_as_declared(
    store: ServingStore, declared: ServedTable
) -> None:
    live = live_table(store, declared)
    assert by_name(live.schema) == by_name(declared.schema)
    assert live.key == declared.key
    assert live.json_columns == declared.json_columns


def test_the_assets_table_has_the_declared_columns_and_the_document(store: ServingStore) -> None:
    columns = [name for name, _, _ in _catalog(store, COLUMNS_SQL.format(table=ASSETS))]
    assert columns == [*ASSET_COLUMNS, "doc"]
    assert _catalog(store, PRIMARY_KEY_SQL.format(table=ASSETS)) == [("asset_id",)]


def test_the_application_tables_are_not_in_the_serving_store(store: ServingStore) -> None:
    # Users, portfolios and alerts live in the operational database (api/accounts): a second,
    # empty copy here would be a second home for each (migration 11 drops version 4's).
    names = {
        name for (name,) in _catalog(store, "SELECT table_name FROM information_schema.tables")
    }
    assert names.isdisjoint({"users", "portfolios", "alerts"})
    assert "predictions" in names
