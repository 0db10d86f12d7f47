"""The production serving store: PostgreSQL with the TimescaleDB extension.

``ohlcv`` is a hypertable partitioned on ``ts``; ``assets`` a plain table. Connections come
from a thread-safe pool (the API calls from many threads), each set to UTC, in autocommit for
single-statement reads, with explicit transactions around writes. The schema
(:data:`pipelines.serving.schema.TIMESCALE_MIGRATIONS`) is versioned (``schema_migrations``)
and :meth:`TimescaleStore.migrate` runs under an advisory lock, so several processes may start
against a fresh database at once.

Works with both builds of the extension: the Apache-2 one (Debian's package, the local
default) and the Timescale-License one (Timescale Cloud, the timescale/timescaledb image).
:attr:`TimescaleStore.edition` says which, for code that wants its extra features
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
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from pipelines.contracts.served import OHLCV_INTRADAY, ServedTable
from pipelines.core.errors import ConfigurationError, StoreUnavailableError
from pipelines.serving import binary_copy, fresh_rows
from pipelines.serving.rows import one_line
from pipelines.serving.schema import TIMESCALE_MIGRATIONS, WEEKLY_RELATION
from pipelines.serving.sql_store import DEFAULT_INTRADAY_RETENTION_DAYS, SqlStore

Edition = Literal["apache", "timescale"]
Connection = psycopg.Connection[TupleRow]
PgCursor = psycopg.Cursor[TupleRow]

_STAGED_PREFIX = "staged_"
_CONNECT_TIMEOUT_S = 5  # unless the DSN sets connect_timeout: fail fast when the host is down
_POOL_WAIT_S = 10.0  # longest a caller waits for a free pooled connection
_HEALTH_WAIT_S = 3.0
#: Key of the advisory lock that serialises migrate() across processes ("rwa_migr" in ASCII).
_MIGRATION_LOCK_KEY = 0x7277615F6D696772


#: Binary COPY type of each Arrow type of the served schemas (JSON columns are jsonb).
_COPY_TYPES: dict[pa.DataType, str] = {
    pa.string(): "text",
    pa.timestamp("us", tz="UTC"): "timestamptz",
    pa.float64(): "float8",
    pa.int64(): "int8",
    pa.int32(): "int4",
    pa.date32(): "date",
    pa.bool_(): "bool",
}
_RETENTION_POLICY_SQL = """
SELECT (config ->> 'drop_after')::interval FROM timescaledb_information.jobs
WHERE proc_name = 'policy_retention' AND hypertable_name = 'ohlcv_intraday'"""
_IS_CONTINUOUS_SQL = (
    "SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_name = %s"
)


class TimescaleStore(SqlStore[PgCursor]):
    """Serving store in the TimescaleDB database at ``dsn``.

    Raises StoreUnavailableError at once when the server cannot be reached. ``read_only``
    (for the API) refuses writes with StoreUnavailableError, and makes every transaction
    read-only on the server side as well.
    """

    backend: ClassVar[str] = "timescaledb"
    _marker = "%s"
    _doc_marker = "%s::jsonb"
    _migrations = TIMESCALE_MIGRATIONS
    _migrations_table_exists_sql = "SELECT to_regclass('schema_migrations') IS NOT NULL"
    _migrate_hint = "migrate it with a writable store first"
    _kind = "TimescaleDB at"
    _appends = True

    def __init__(
        self,
        dsn: str,
        pool_max: int = 10,
        *,
        read_only: bool = False,
        intraday_retention_days: int = DEFAULT_INTRADAY_RETENTION_DAYS,
    ) -> None:
        self.safe_dsn = redact_dsn(dsn)
        super().__init__(
            self.safe_dsn, read_only=read_only, intraday_retention_days=intraday_retention_days
        )
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
    def _staged(self, cur: PgCursor, table: ServedTable, rows: pa.Table) -> Iterator[str]:
        """COPY into a temporary staging table, for one INSERT ... ON CONFLICT from it: a plain
        COPY cannot upsert, and row-by-row INSERTs are two orders of magnitude slower."""
        staged = _STAGED_PREFIX + table.name
        # ON COMMIT DROP: the pooled connection is reused, so nothing may outlive the load.
        cur.execute(f"CREATE TEMP TABLE {staged} (LIKE {table.name}) ON COMMIT DROP")
        _copy(cur, staged, table, rows)
        yield staged

    def _stored_ranges(self, cur: PgCursor, table: ServedTable, series: pa.Table) -> pa.Table:
        """Two index probes per series (the primary key's index starts with the series
        columns, then time); on a hypertable each probe walks the chunks in time order and
        stops at the first that holds the series."""
        columns = series.column_names
        arrays = [f"{self._marker}::{_copy_type(field, table)}[]" for field in series.schema]
        same = " AND ".join(f"o.{name} = k.{name}" for name in columns)
        probe = f"SELECT o.{table.time_column} FROM {table.name} AS o WHERE {same} ORDER BY 1"
        sql = (
            f"SELECT ({probe} LIMIT 1), ({probe} DESC LIMIT 1) "
            f"FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS k({', '.join(columns)}, n) "
            "ORDER BY k.n"
        )
        found = cur.execute(sql, [series.column(name).to_pylist() for name in columns])
        earliest, latest = zip(*found.fetchall(), strict=True) if series.num_rows else ((), ())
        time_type = table.schema.field(table.time_column).type
        return series.append_column(
            fresh_rows.EARLIEST, pa.array(earliest, time_type)
        ).append_column(fresh_rows.LATEST, pa.array(latest, time_type))

    def _append(self, cur: PgCursor, table: ServedTable, rows: pa.Table) -> bool:
        """COPY straight into the table, in a savepoint: a concurrent writer may have stored
        one of these keys since the look-up, and then the unique violation undoes only this
        COPY and the rows go through the upsert."""
        try:
            with cur.connection.transaction():
                _copy(cur, table.name, table, rows)
        except psycopg.errors.UniqueViolation:
            return False
        return True

    def _drop_intraday_before(self, cur: PgCursor, cutoff: dt.datetime) -> tuple[int, int]:
        """drop_chunks, which both builds have: whole chunks wholly before ``cutoff`` go (a
        file unlink each, no row deletes, no vacuum). Rows are counted around it for the
        report; the count reads only the old chunks."""
        count_old = f"SELECT count(*) FROM {OHLCV_INTRADAY.name} WHERE ts < %s"
        before = _first_int(cur.execute(count_old, [cutoff]))
        chunks = _first_int(
            cur.execute(
                f"SELECT count(*) FROM drop_chunks('{OHLCV_INTRADAY.name}', older_than => %s)",
                [cutoff],
            )
        )
        after = _first_int(cur.execute(count_old, [cutoff]))
        return before - after, chunks

    def _refresh_aggregates(self) -> list[str]:
        """Refresh the weekly bars: a continuous aggregate (License build) over the whole
        range, so backfills outside the policy's window are included, or the plain
        materialized view (Apache build). Decided by what the database holds, not by the
        edition running now, since migration 5 created one or the other. Runs outside a
        transaction block, as refresh_continuous_aggregate requires."""
        view = WEEKLY_RELATION
        with self._cursor() as cur:
            if _first_int(cur.execute(_IS_CONTINUOUS_SQL, [view])):
                cur.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
            else:
                cur.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {view}")
        return [view]

    def _licensed(self, cur: PgCursor) -> bool:
        return _edition(cur) == "timescale"

    def _after_migrations(self, cur: PgCursor) -> None:
        """On the License build, keep the intraday retention policy at the configured period
        (a setting, so it is reconciled on every migrate rather than fixed in a migration).
        The Apache build has no policies: apply_retention() does the same work."""
        if not self._licensed(cur):
            return
        row = cur.execute(_RETENTION_POLICY_SQL).fetchone()
        if row is not None and row[0] == self.intraday_retention:
            return
        table = OHLCV_INTRADAY.name
        cur.execute(f"SELECT remove_retention_policy('{table}', if_exists => TRUE)")
        cur.execute(
            f"SELECT add_retention_policy('{table}', drop_after => %s)", [self.intraday_retention]
        )

    def _health_detail(self) -> str:
        with self._connection(timeout=_HEALTH_WAIT_S) as conn:
            return f"{_describe(conn)} at {self.safe_dsn}"

    @property
    def edition(self) -> Edition:
        """'apache' (hypertables, time_bucket, drop_chunks) or 'timescale' (also compression,
        continuous aggregates and policies); read from the server once."""
        if self._edition is None:
            with self._cursor() as cur:
                self._edition = _edition(cur)
        return self._edition

    def close(self) -> None:
        self._pool.close()


def _edition(cur: PgCursor) -> Edition:
    try:
        row = cur.execute("SHOW timescaledb.license").fetchone()
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
    with conn.cursor() as cur:
        edition = _edition(cur)
    return f"TimescaleDB {row[0]} ({edition} edition) on {postgres}"


def _first_int(cur: PgCursor) -> int:
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _copy_type(field: pa.Field[Any], table: ServedTable) -> str:
    if field.name in table.json_columns:
        return "jsonb"
    try:
        return _COPY_TYPES[field.type]
    except KeyError:
        raise TypeError(f"no COPY type for {field.name}: {field.type}") from None


def _copy(cur: PgCursor, relation: str, table: ServedTable, rows: pa.Table) -> None:
    """Binary COPY of ``rows`` (of ``table.schema``) into ``relation``: no text formatting or
    parsing of time stamps and floats on either side. Encoded column-wise in numpy
    (:mod:`binary_copy`), or row by row where the rows have too many layouts for that."""
    columns = ", ".join(rows.column_names)
    with cur.copy(f"COPY {relation} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        parts = binary_copy.encode(rows, table.json_columns)
        if parts is not None:
            for part in parts:
                copy.write(part)
            return
        copy.set_types([_copy_type(field, table) for field in rows.schema])
        for row in _rows_of(rows, table):
            copy.write_row(row)


def _rows_of(rows: pa.Table, table: ServedTable) -> Iterator[tuple[object, ...]]:
    """Arrow columns as Python row tuples for COPY, converted column-wise."""
    columns = [_python_values(rows.column(field.name), field, table) for field in rows.schema]
    return zip(*columns, strict=True)


def _python_values(
    column: pa.ChunkedArray[Any], field: pa.Field[Any], table: ServedTable
) -> list[Any]:
    """One column as Python values. Columns without nulls go through numpy where that is
    faster: Arrow's ``to_pylist`` builds each tz-aware datetime through the time zone
    database (five times slower for 100k rows) and each float as a scalar object."""
    if field.name in table.json_columns:
        # The text is JSON already: hand it to the jsonb dumper as is (dumps=str).
        return [None if text is None else Jsonb(text, dumps=str) for text in column.to_pylist()]
    if column.null_count:
        return column.to_pylist()
    if pa.types.is_timestamp(field.type):
        naive = column.cast(pa.timestamp("us")).to_numpy().astype("datetime64[us]")
        return [stamp.replace(tzinfo=dt.UTC) for stamp in naive.tolist()]
    if pa.types.is_floating(field.type):
        return list(column.to_numpy().tolist())
    return column.to_pylist()


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
