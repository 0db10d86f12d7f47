"""SQL text shared by the DuckDB and TimescaleDB stores.

Both engines speak the same SQL for everything but DDL types and parameter markers (DuckDB
takes ``?``, psycopg ``%s``), so statements that differ only in markers are built here from a
``marker`` argument and each store keeps only its own dialect's DDL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

OHLCV_KEY = ("asset_id", "resolution", "ts")
OHLCV_VALUES = ("open", "high", "low", "close", "volume")
OHLCV_COLUMNS = OHLCV_KEY + OHLCV_VALUES

#: Columns of ``assets`` besides ``doc``, the full model as JSON: the ones worth filtering
#: or joining on in SQL. ``doc`` is what is read back, so a new model field needs no migration.
ASSET_COLUMNS = (
    "asset_id",
    "symbol",
    "name",
    "asset_class",
    "blockchain_network",
    "contract_address",
    "issuer_name",
)


# --- migrations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; applied once, in ``version`` order, and recorded in schema_migrations.

    Never edit a released migration: add a new one, since databases that already recorded a
    version will not run it again.
    """

    version: int
    name: str
    statements: tuple[str, ...]


CREATE_MIGRATIONS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)"""
APPLIED_MIGRATIONS_SQL = "SELECT version FROM schema_migrations"


def record_migration_sql(marker: str) -> str:
    return f"INSERT INTO schema_migrations (version, name) VALUES ({marker}, {marker})"


def pending_migrations(
    migrations: tuple[Migration, ...], applied: Iterable[int]
) -> list[Migration]:
    """The migrations not yet recorded, in order; checks the list itself first."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and ascending: {versions}")
    done = set(applied)
    return [m for m in migrations if m.version not in done]


# --- statements -----------------------------------------------------------------------------


def _assignments(columns: tuple[str, ...]) -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in columns)


def upsert_ohlcv_sql(source: str) -> str:
    """Upsert every row of the relation ``source`` (same column names) into ``ohlcv``.

    Rows whose values are unchanged are left alone (the WHERE): replaying a load, the common
    case of an idempotent pipeline, then writes no new row versions, which in PostgreSQL
    halves its cost and spares the table bloat and WAL.
    """
    columns = ", ".join(OHLCV_COLUMNS)
    current = ", ".join(f"ohlcv.{c}" for c in OHLCV_VALUES)
    incoming = ", ".join(f"excluded.{c}" for c in OHLCV_VALUES)
    return (
        f"INSERT INTO ohlcv ({columns}) SELECT {columns} FROM {source} "
        f"ON CONFLICT ({', '.join(OHLCV_KEY)}) DO UPDATE SET {_assignments(OHLCV_VALUES)} "
        f"WHERE ({current}) IS DISTINCT FROM ({incoming})"
    )


def upsert_assets_sql(marker: str, doc_marker: str | None = None) -> str:
    """Upsert one asset: the main columns, then ``doc`` (``doc_marker`` lets a dialect cast)."""
    columns = (*ASSET_COLUMNS, "doc")
    markers = [marker] * len(ASSET_COLUMNS) + [doc_marker or marker]
    return (
        f"INSERT INTO assets ({', '.join(columns)}) VALUES ({', '.join(markers)}) "
        f"ON CONFLICT (asset_id) DO UPDATE SET {_assignments(columns[1:])}"
    )


def select_assets_sql(marker: str, *, by_id: bool = False, by_class: bool = False) -> str:
    """``doc`` of the assets (as text), ordered by id, optionally filtered."""
    where = [f"asset_id = {marker}"] if by_id else []
    where += [f"asset_class = {marker}"] if by_class else []
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT CAST(doc AS TEXT) FROM assets{clause} ORDER BY asset_id"


def select_ohlcv_sql(
    marker: str,
    asset_id: str,
    resolution: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    limit: int | None,
) -> tuple[str, list[object]]:
    """Bars of one series with ``start <= ts < end``, ascending; with ``limit``, the newest
    ``limit`` of them (taken newest-first along the key index, then put back in time order)."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    where = [f"asset_id = {marker}", f"resolution = {marker}"]
    params: list[object] = [asset_id, resolution]
    if start is not None:
        where.append(f"ts >= {marker}")
        params.append(start)
    if end is not None:
        where.append(f"ts < {marker}")
        params.append(end)
    columns = ", ".join(("ts", *OHLCV_VALUES))
    inner = f"SELECT {columns} FROM ohlcv WHERE {' AND '.join(where)}"
    if limit is None:
        return f"{inner} ORDER BY ts", params
    params.append(limit)
    return f"SELECT * FROM ({inner} ORDER BY ts DESC LIMIT {marker}) AS newest ORDER BY ts", params


COUNT_ASSETS_SQL = "SELECT count(*) FROM assets"
COUNT_OHLCV_SQL = "SELECT resolution, count(*) FROM ohlcv GROUP BY resolution"
