"""The embedded serving store: one DuckDB file, no server.

Concurrency model (DuckDB's, not ours):

* One process at a time may open the file for writing; any number may open it read-only, but
  only while no process holds it for writing. So the API and a loader cannot share the file
  across processes: run loads in the API's process, or stop the API during loads, or use
  TimescaleDB. Opening a file another process holds fails with StoreUnavailableError.
* Within a process, one :class:`DuckDBStore` may be used from many threads: every call runs on
  its own cursor (a cheap child connection of the same database instance). Reads run in
  parallel; writes are serialised by a lock so that two loads never conflict on the same rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import duckdb
import pyarrow as pa

from pipelines.core.errors import StoreUnavailableError
from pipelines.reference.model import Asset
from pipelines.serving import _sql
from pipelines.serving._rows import (
    as_utc,
    asset_from_doc,
    asset_row,
    bars_from_rows,
    counts,
    one_line,
    prepare_bars,
)
from pipelines.serving.base import OhlcvBar, Resolution, ServingStore, StoreHealth

_MARKER = "?"
_STAGED = "staged_ohlcv"  # name of the Arrow view; private to each cursor

MIGRATIONS: tuple[_sql.Migration, ...] = (
    _sql.Migration(
        1,
        "assets and ohlcv",
        (
            """CREATE TABLE assets (
                asset_id           VARCHAR PRIMARY KEY,
                symbol             VARCHAR NOT NULL,
                name               VARCHAR NOT NULL,
                asset_class        VARCHAR NOT NULL,
                blockchain_network VARCHAR NOT NULL,
                contract_address   VARCHAR,
                issuer_name        VARCHAR,
                doc                JSON NOT NULL
            )""",
            # The primary key doubles as the index of every read: one series, a time range.
            """CREATE TABLE ohlcv (
                asset_id   VARCHAR NOT NULL,
                resolution VARCHAR NOT NULL,
                ts         TIMESTAMPTZ NOT NULL,
                open       DOUBLE NOT NULL,
                high       DOUBLE NOT NULL,
                low        DOUBLE NOT NULL,
                close      DOUBLE NOT NULL,
                volume     DOUBLE NOT NULL,
                PRIMARY KEY (asset_id, resolution, ts)
            )""",
        ),
    ),
)


class DuckDBStore(ServingStore):
    """Serving store in the DuckDB file ``path`` (created, with its folder, unless read-only)."""

    backend: ClassVar[str] = "duckdb"

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._con = self._connect()
        self._cursor_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if not self.read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreUnavailableError(
                f"DuckDB store {self.path} does not exist; load data into it before reading"
            )
        try:
            con = duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.Error as exc:
            raise StoreUnavailableError(
                f"cannot open DuckDB store {self.path}: {one_line(exc)} "
                "(DuckDB allows one writer process per file and no readers beside it)"
            ) from exc
        # GLOBAL so every cursor inherits it; a session SET would not reach them.
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        return con

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # Creating a cursor touches the parent connection, which is not thread-safe.
        with self._cursor_lock:
            cursor = self._con.cursor()
        with cursor:
            yield cursor

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock, self._cursor() as cur:
            cur.begin()
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            cur.commit()

    # --- schema --------------------------------------------------------------------------------

    def migrate(self) -> None:
        if self.read_only:
            self._check_migrated()
            return
        with self._transaction() as cur:
            cur.execute(_sql.CREATE_MIGRATIONS_TABLE_SQL)
            applied = [v for (v,) in cur.execute(_sql.APPLIED_MIGRATIONS_SQL).fetchall()]
            for migration in _sql.pending_migrations(MIGRATIONS, applied):
                for statement in migration.statements:
                    cur.execute(statement)
                cur.execute(_sql.record_migration_sql(_MARKER), [migration.version, migration.name])

    def _check_migrated(self) -> None:
        """A read-only store cannot migrate; say so clearly if the file is behind."""
        with self._cursor() as cur:
            exists = cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
            ).fetchone()
            applied = (
                [v for (v,) in cur.execute(_sql.APPLIED_MIGRATIONS_SQL).fetchall()]
                if exists and exists[0]
                else []
            )
        missing = [m.version for m in _sql.pending_migrations(MIGRATIONS, applied)]
        if missing:
            raise StoreUnavailableError(
                f"DuckDB store {self.path} lacks schema version(s) {missing}; "
                "open it writable and migrate (any load does) before reading"
            )

    # --- writes --------------------------------------------------------------------------------

    def upsert_assets(self, assets: list[Asset]) -> int:
        if not assets:
            return 0
        with self._transaction() as cur:
            cur.executemany(_sql.upsert_assets_sql(_MARKER), [asset_row(asset) for asset in assets])
        return len(assets)

    def upsert_ohlcv(self, bars: pa.Table) -> int:
        table = prepare_bars(bars)
        if table.num_rows == 0:
            return 0
        with self._transaction() as cur:
            # DuckDB scans the Arrow table in place: no copy, no per-row Python.
            cur.register(_STAGED, table)
            try:
                cur.execute(_sql.upsert_ohlcv_sql(_STAGED))
            finally:
                cur.unregister(_STAGED)
        return table.num_rows

    # --- reads ---------------------------------------------------------------------------------

    def list_assets(self, asset_class: str | None = None) -> list[Asset]:
        sql = _sql.select_assets_sql(_MARKER, by_class=asset_class is not None)
        params = [] if asset_class is None else [asset_class]
        with self._cursor() as cur:
            rows = cur.execute(sql, params).fetchall()
        return [asset_from_doc(doc) for (doc,) in rows]

    def get_asset(self, asset_id: str) -> Asset | None:
        with self._cursor() as cur:
            row = cur.execute(_sql.select_assets_sql(_MARKER, by_id=True), [asset_id]).fetchone()
        return None if row is None else asset_from_doc(row[0])

    def ohlcv(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[OhlcvBar]:
        sql, params = _sql.select_ohlcv_sql(
            _MARKER, asset_id, resolution, as_utc(start), as_utc(end), limit
        )
        with self._cursor() as cur:
            return bars_from_rows(cur.execute(sql, params).fetchall())

    def table_counts(self) -> dict[str, int]:
        with self._cursor() as cur:
            assets = cur.execute(_sql.COUNT_ASSETS_SQL).fetchone()
            per_resolution = cur.execute(_sql.COUNT_OHLCV_SQL).fetchall()
        return counts(assets[0] if assets else 0, per_resolution)

    def health(self) -> StoreHealth:
        mode = "read-only" if self.read_only else "read-write"
        try:
            with self._cursor() as cur:
                cur.execute("SELECT 1").fetchone()
        except Exception as exc:  # health reports failures, it never raises them
            return StoreHealth(self.backend, False, f"{self.path}: {one_line(exc)}")
        return StoreHealth(self.backend, True, f"DuckDB {duckdb.__version__}, {self.path} ({mode})")

    def close(self) -> None:
        self._con.close()
