"""The production serving store: PostgreSQL with the TimescaleDB extension.

``ohlcv`` is a hypertable partitioned on ``ts``; ``assets`` a plain table. Connections come
from a thread-safe pool (the API calls from many threads), each set to UTC, in autocommit for
single-statement reads, with explicit transactions around writes. The schema is versioned
(``schema_migrations``) and :meth:`TimescaleStore.migrate` runs under an advisory lock, so
several processes may start against a fresh database at once.

Works with both builds of the extension: the Apache-2 one (Debian's package, the local
default) and the Timescale-License one (Timescale Cloud, the timescale/timescaledb image).
:attr:`TimescaleStore.edition` says which, for jobs that want its extra features
(compression, continuous aggregates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import psycopg
import pyarrow as pa
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from pipelines.core.errors import ConfigurationError, StoreUnavailableError
from pipelines.serving import _sql
from pipelines.serving._rows import one_line
from pipelines.serving._sql_store import SqlStore

Edition = Literal["apache", "timescale"]
Connection = psycopg.Connection[TupleRow]
PgCursor = psycopg.Cursor[TupleRow]

_STAGED = "staged_ohlcv"
_CONNECT_TIMEOUT_S = 5  # unless the DSN sets connect_timeout: fail fast when the host is down
_POOL_WAIT_S = 10.0  # longest a caller waits for a free pooled connection
_HEALTH_WAIT_S = 3.0
#: Key of the advisory lock that serialises migrate() across processes ("rwa_migr" in ASCII).
_MIGRATION_LOCK_KEY = 0x7277615F6D696772

# 30-day chunks: a year of hourly bars for ~50 assets is ~440k rows, so even one chunk per
# month stays far below the "chunk fits in a quarter of RAM" guideline while keeping the chunk
# count (and planning time) small for multi-year daily series. Timescale's 7-day default
# targets ingest-heavy tables, which this is not.
MIGRATIONS: tuple[_sql.Migration, ...] = (
    _sql.Migration(1, "timescaledb extension", ("CREATE EXTENSION IF NOT EXISTS timescaledb",)),
    _sql.Migration(
        2,
        "assets and ohlcv",
        (
            """CREATE TABLE assets (
                asset_id           TEXT PRIMARY KEY,
                symbol             TEXT NOT NULL,
                name               TEXT NOT NULL,
                asset_class        TEXT NOT NULL,
                blockchain_network TEXT NOT NULL,
                contract_address   TEXT,
                issuer_name        TEXT,
                doc                JSONB NOT NULL
            )""",
            "CREATE INDEX assets_asset_class_idx ON assets (asset_class)",
            # The primary key doubles as the index of every read: one series, a time range.
            """CREATE TABLE ohlcv (
                asset_id   TEXT NOT NULL,
                resolution TEXT NOT NULL,
                ts         TIMESTAMPTZ NOT NULL,
                open       DOUBLE PRECISION NOT NULL,
                high       DOUBLE PRECISION NOT NULL,
                low        DOUBLE PRECISION NOT NULL,
                close      DOUBLE PRECISION NOT NULL,
                volume     DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (asset_id, resolution, ts)
            )""",
            """SELECT create_hypertable('ohlcv', by_range('ts', INTERVAL '30 days'),
                                        if_not_exists => TRUE)""",
        ),
    ),
)

# Binary COPY: no text formatting or parsing of timestamps and floats on either side.
_COPY_SQL = f"COPY {_STAGED} ({', '.join(_sql.OHLCV_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "text", "timestamptz", "float8", "float8", "float8", "float8", "float8"]
# ON COMMIT DROP: the pooled connection is reused, so nothing may outlive the load.
_STAGE_SQL = f"CREATE TEMP TABLE {_STAGED} (LIKE ohlcv) ON COMMIT DROP"


class TimescaleStore(SqlStore[PgCursor]):
    """Serving store in the TimescaleDB database at ``dsn``.

    Raises StoreUnavailableError at once when the server cannot be reached. ``read_only``
    (for the API) refuses writes with StoreUnavailableError, and makes every transaction
    read-only on the server side as well.
    """

    backend: ClassVar[str] = "timescaledb"
    _marker = "%s"
    _doc_marker = "%s::jsonb"
    _migrations = MIGRATIONS
    _migrations_table_exists_sql = "SELECT to_regclass('schema_migrations') IS NOT NULL"
    _migrate_hint = "migrate it with a writable store first"
    _kind = "TimescaleDB at"

    def __init__(self, dsn: str, pool_max: int = 10, *, read_only: bool = False) -> None:
        self.safe_dsn = redact_dsn(dsn)
        super().__init__(self.safe_dsn, read_only=read_only)
        self._edition: Edition | None = None
        conninfo = _with_connect_timeout(dsn)
        self._probe(conninfo)
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_max,
            kwargs={"autocommit": True},
            configure=self._configure,
            # Checked on checkout, so a server restart costs callers nothing but a reconnect.
            check=ConnectionPool.check_connection,
            timeout=_POOL_WAIT_S,
            name="rwa-serving",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=_POOL_WAIT_S)
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise self._unavailable(exc) from exc

    def _probe(self, conninfo: str) -> None:
        """Connect once outside the pool: the pool would retry in the background for its whole
        timeout and then report only "timeout", hiding libpq's actual reason."""
        try:
            psycopg.connect(conninfo).close()
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc

    def _configure(self, conn: Connection) -> None:
        conn.execute("SET TIME ZONE 'UTC'")
        if self.read_only:
            conn.execute("SET default_transaction_read_only = on")

    def _unavailable(self, exc: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(f"{self._label} is unavailable: {one_line(exc)}")

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[Connection]:
        """A pooled connection; connection-level failures become StoreUnavailableError."""
        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except psycopg.OperationalError as exc:  # includes the pool's PoolTimeout
            raise self._unavailable(exc) from exc

    @contextmanager
    def _cursor(self) -> Iterator[PgCursor]:
        # The connection is in autocommit: every read statement is its own transaction.
        with self._connection() as conn, conn.cursor() as cur:
            yield cur

    @contextmanager
    def _transaction(self) -> Iterator[PgCursor]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _lock_migrations(self, cur: PgCursor) -> None:
        # Taken before touching schema_migrations, so concurrent starts queue here and the
        # later ones find every migration recorded. Released at commit.
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK_KEY])

    @contextmanager
    def _staged(self, cur: PgCursor, bars: pa.Table) -> Iterator[str]:
        """COPY into a temporary staging table, for one INSERT ... ON CONFLICT from it: a plain
        COPY cannot upsert, and row-by-row INSERTs are two orders of magnitude slower."""
        cur.execute(_STAGE_SQL)
        with cur.copy(_COPY_SQL) as copy:
            copy.set_types(_COPY_TYPES)
            for row in _rows_of(bars):
                copy.write_row(row)
        yield _STAGED

    def _health_detail(self) -> str:
        with self._connection(timeout=_HEALTH_WAIT_S) as conn:
            return f"{_describe(conn)} at {self.safe_dsn}"

    @property
    def edition(self) -> Edition:
        """'apache' (hypertables, time_bucket, drop_chunks) or 'timescale' (also compression,
        continuous aggregates and policies); read from the server once."""
        if self._edition is None:
            with self._connection() as conn:
                self._edition = _edition(conn)
        return self._edition

    def close(self) -> None:
        self._pool.close()


def _edition(conn: Connection) -> Edition:
    try:
        row = conn.execute("SHOW timescaledb.license").fetchone()
    except psycopg.errors.UndefinedObject as exc:  # the library is not loaded at all
        raise StoreUnavailableError(
            f"the server has no TimescaleDB library loaded: {one_line(exc)}"
        ) from exc
    # Anything but the Timescale License build offers only the Apache-2 feature set.
    return "timescale" if row and row[0] == "timescale" else "apache"


def _describe(conn: Connection) -> str:
    """e.g. 'TimescaleDB 2.19.3 (apache edition) on PostgreSQL 17.12'."""
    server = conn.info.server_version  # e.g. 170012
    postgres = f"PostgreSQL {server // 10000}.{server % 10000}"
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if row is None:
        return f"{postgres}, timescaledb extension not created yet (migrate() pending)"
    return f"TimescaleDB {row[0]} ({_edition(conn)} edition) on {postgres}"


def _rows_of(table: pa.Table) -> Iterator[tuple[object, ...]]:
    """Arrow columns as Python row tuples for COPY, converted column-wise.

    Time stamps go through numpy: Arrow's own ``to_pylist`` builds each tz-aware datetime
    through the time zone database, five times slower for 100k rows.
    """
    naive = table.column("ts").cast(pa.timestamp("us")).to_numpy().astype("datetime64[us]")
    stamps = [stamp.replace(tzinfo=dt.UTC) for stamp in naive.tolist()]
    columns: list[list[Any]] = [
        table.column("asset_id").to_pylist(),
        table.column("resolution").to_pylist(),
        stamps,
        *(table.column(name).to_numpy().tolist() for name in _sql.OHLCV_VALUES),
    ]
    return zip(*columns, strict=True)


def _with_connect_timeout(dsn: str) -> str:
    """The DSN with a connect timeout unless it sets its own (libpq waits forever)."""
    if "connect_timeout" in _parse_dsn(dsn):
        return dsn
    return make_conninfo(dsn, connect_timeout=_CONNECT_TIMEOUT_S)


def _parse_dsn(dsn: str) -> dict[str, str | int | None]:
    try:
        return conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        # libpq's message may quote the string, password included: leave it out.
        raise ConfigurationError(
            "invalid TimescaleDB DSN (RWA_TIMESCALE_DSN): expected a libpq URI such as "
            "postgresql://user@host:port/dbname or key=value pairs"
        ) from exc


def redact_dsn(dsn: str) -> str:
    """The DSN as a URI without its password, for messages and logs."""
    params = _parse_dsn(dsn)
    host = params.get("host") or params.get("hostaddr") or "localhost"
    user = f"{params['user']}@" if params.get("user") else ""
    return f"postgresql://{user}{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
