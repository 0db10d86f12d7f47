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
from pipelines.serving import _sql
from pipelines.serving._rows import one_line
from pipelines.serving._sql_store import DEFAULT_INTRADAY_RETENTION_DAYS, SqlStore
from pipelines.serving.base import OHLCV_INTRADAY, ServedTable

#: Prefix of the Arrow views a load registers; private to each cursor.
_STAGED_PREFIX = "staged_"

#: Versions match TimescaleDB's from 3 on (the same step under the same number); DuckDB's
#: version 1 is TimescaleDB's 1 and 2 together (it has no extension to create).
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
    _sql.Migration(3, "market and macro time series", _sql.market_tables_ddl()),
    # DuckDB has no ON DELETE CASCADE: deleting a user deletes its rows explicitly.
    _sql.Migration(4, "relational tables", _sql.relational_tables_ddl("JSON", "")),
    # A plain view: DuckDB aggregates a few thousand daily bars per asset in milliseconds,
    # and a view is never stale, so there is nothing to refresh.
    _sql.Migration(
        5,
        "weekly ohlcv",
        (
            f"CREATE VIEW {_sql.WEEKLY_RELATION} AS "
            + _sql.weekly_bars_select("arg_min(open, ts)", "arg_max(close, ts)"),
        ),
    ),
    # Compression is TimescaleDB's; the version is kept so both stores count alike.
    _sql.Migration(6, "ohlcv compression (TimescaleDB License build only)", ()),
    _sql.Migration(
        7,
        "nullability as declared: volume nullable, risk factors required",
        (
            *_sql.NULLABILITY_DDL,
            f"CREATE OR REPLACE VIEW {_sql.WEEKLY_RELATION} AS "
            + _sql.weekly_bars_select(
                "arg_min(open, ts)", "arg_max(close, ts)", _sql.COMPLETE_VOLUME_SUM
            ),
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

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        intraday_retention_days: int = DEFAULT_INTRADAY_RETENTION_DAYS,
    ) -> None:
        self.path = Path(path)
        super().__init__(
            str(self.path), read_only=read_only, intraday_retention_days=intraday_retention_days
        )
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
    def _staged(
        self, cur: duckdb.DuckDBPyConnection, table: ServedTable, rows: pa.Table
    ) -> Iterator[str]:
        # DuckDB scans the Arrow table in place: no copy, no per-row Python. The view lives
        # as long as the cursor, which the transaction closes; unregistering here instead
        # would fail inside an aborted transaction and hide the error that aborted it.
        name = _STAGED_PREFIX + table.name
        cur.register(name, rows)
        yield name

    def _drop_intraday_before(
        self, cur: duckdb.DuckDBPyConnection, cutoff: dt.datetime
    ) -> tuple[int, int]:
        # Row by row: DuckDB has no chunks to drop, and deleting is cheap at embedded scale.
        row = cur.execute(f"DELETE FROM {OHLCV_INTRADAY.name} WHERE ts < ?", [cutoff]).fetchone()
        return (int(row[0]) if row else 0), 0

    def _refresh_aggregates(self) -> list[str]:
        return []  # the weekly bars are a view, computed on read

    def _health_detail(self) -> str:
        with self._cursor() as cur:
            cur.execute("SELECT 1").fetchone()
        mode = "read-only" if self.read_only else "read-write"
        return f"DuckDB {duckdb.__version__}, {self.path} ({mode})"

    def close(self) -> None:
        self._con.close()
