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

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import duckdb
import pyarrow as pa

from pipelines.core.errors import StoreUnavailableError
from pipelines.serving import _sql
from pipelines.serving._rows import one_line
from pipelines.serving._sql_store import SqlStore

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


class DuckDBStore(SqlStore[duckdb.DuckDBPyConnection]):
    """Serving store in the DuckDB file ``path`` (created, with its folder, unless read-only)."""

    backend: ClassVar[str] = "duckdb"
    _marker = "?"
    _migrations = MIGRATIONS
    _migrations_table_exists_sql = (
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
    )
    _migrate_hint = "open it writable and migrate (any load does) before reading"
    _kind = "DuckDB store"

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        super().__init__(str(self.path), read_only=read_only)
        self._con = self._connect()
        self._cursor_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if not self.read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreUnavailableError(
                f"{self._label} does not exist; load data into it before reading"
            )
        try:
            con = duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.Error as exc:
            raise StoreUnavailableError(
                f"cannot open {self._label}: {one_line(exc)} "
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

    @contextmanager
    def _staged(self, cur: duckdb.DuckDBPyConnection, bars: pa.Table) -> Iterator[str]:
        # DuckDB scans the Arrow table in place: no copy, no per-row Python.
        cur.register(_STAGED, bars)
        try:
            yield _STAGED
        finally:
            cur.unregister(_STAGED)

    def _health_detail(self) -> str:
        with self._cursor() as cur:
            cur.execute("SELECT 1").fetchone()
        mode = "read-only" if self.read_only else "read-write"
        return f"DuckDB {duckdb.__version__}, {self.path} ({mode})"

    def close(self) -> None:
        self._con.close()
