"""The embedded serving store: DuckDB files, no server.

DuckDB lets one process open a file read-write *or* several open it read-only, never both.
So the store is a series of published, immutable snapshots (``duckdb_snapshots`` has the
on-disk layout), and no process ever opens a file another one writes:

* A store opened for writing (a load) takes the writer lock, copies the published snapshot to
  a private file and writes there; :meth:`DuckDBStore.close` checkpoints it and publishes it
  atomically. A second writer waits for the lock (``writer_wait_s``, then
  StoreUnavailableError). A writer that dies before closing publishes nothing.
* A store opened read-only (the API) reads the published snapshot and looks at the link
  before every read: when a load has published a newer one, the next read uses it; the old
  connection closes once the reads in flight on it are done. Reads therefore never fail or
  wait because of a load, and see each load whole or not at all.
* Within a process, one :class:`DuckDBStore` may be used from many threads: every call runs on
  a cursor of its own (a child connection of the same database instance; a reader keeps one per
  thread and snapshot, a writer makes one per call). Reads run in parallel; writes are
  serialised by a lock so that two loads never conflict on the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar, cast

import duckdb
import pyarrow as pa

from pipelines.contracts.served import OHLCV_INTRADAY, ServedTable
from pipelines.core.errors import StoreUnavailableError
from pipelines.core.settings import ServingSettings
from pipelines.serving import fresh_rows
from pipelines.serving.duckdb_snapshots import (
    SnapshotLayout,
    WriterLock,
    discard,
    publish,
    start_snapshot,
)
from pipelines.serving.rows import one_line
from pipelines.serving.schema import DUCKDB_MIGRATIONS
from pipelines.serving.sql_store import DEFAULT_INTRADAY_RETENTION_DAYS, SqlStore

#: How long a writer waits for another one to finish: the setting's own default.
DEFAULT_WRITER_WAIT_S: float = ServingSettings.model_fields["duckdb_writer_wait_s"].default
#: The most memory a writer's buffer pool takes: the setting's own default.
DEFAULT_MEMORY_LIMIT: str = ServingSettings.model_fields["duckdb_memory_limit"].default

_log = logging.getLogger(__name__)
T = TypeVar("T")

#: The most a reader keeps of results per snapshot (see _Reader.memoised): e.g. the JSON of
#: some 350 hourly reads of 2,160 bars.
MEMO_BYTES = 64 * 1024 * 1024

#: Prefix of the Arrow views a load registers; private to each cursor.
_STAGED_PREFIX = "staged_"
#: Prefix of the Arrow view of a batch's series, looked up before it is written.
_SERIES_PREFIX = "series_"


class DuckDBStore(SqlStore[duckdb.DuckDBPyConnection]):
    """Serving store at ``path`` (created, with its folder, by the first writer).

    A writer's changes become visible to other stores when it is closed (see the module
    docstring); reads on the writer itself see them at once.
    """

    backend: ClassVar[str] = "duckdb"
    _marker = "?"
    _migrations = DUCKDB_MIGRATIONS
    _migrations_table_exists_sql = (
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
    )
    _migrate_hint = "open it writable and migrate (any load does) before reading"
    _kind = "DuckDB store"
    # Rows no stored row can collide with are inserted as they are: the upsert's NOT EXISTS
    # builds its hash table on the stored rows, so its memory grew with the store (a first
    # load of 16x the demo's hourly bars peaked some 60 MB above the demo's in the driver).
    _appends = True

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        intraday_retention_days: int = DEFAULT_INTRADAY_RETENTION_DAYS,
        writer_wait_s: float = DEFAULT_WRITER_WAIT_S,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self.path = Path(path)
        super().__init__(
            str(self.path), read_only=read_only, intraday_retention_days=intraday_retention_days
        )
        self._layout = SnapshotLayout(self.path)
        self._cursor_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer: _Writer | None = None
        self._reader: _Reader | None = None
        if read_only:
            self._reader = _Reader(self._layout, self._label)
        else:
            self._writer = _Writer(self._layout, writer_wait_s, memory_limit)

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._reader is not None:
            with self._reader.cursor() as cursor:
                yield cursor
            return
        assert self._writer is not None
        # Creating a cursor touches the parent connection, which is not thread-safe.
        with self._cursor_lock:
            cursor = self._writer.connection().cursor()
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
            if self._writer is not None:
                self._writer.changed = True

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

    def _stored_ranges(
        self, cur: duckdb.DuckDBPyConnection, table: ServedTable, series: pa.Table
    ) -> pa.Table:
        # A semi join built on the batch's few series, then one aggregate row per series, so
        # the look-up holds next to nothing whatever the stored table's size. Series the table
        # does not hold are left out. The view lives as long as the cursor (see _staged).
        columns = series.column_names
        listed = ", ".join(f"o.{name}" for name in columns)
        same = " AND ".join(f"o.{name} = k.{name}" for name in columns)
        time = f"o.{table.time_column}"
        name = _SERIES_PREFIX + table.name
        cur.register(name, series)
        sql = (
            f"SELECT {listed}, min({time}), max({time}) FROM {table.name} AS o "
            f"SEMI JOIN {name} AS k ON {same} GROUP BY {listed}"
        )
        time_type = table.schema.field(table.time_column).type
        schema = series.schema.append(pa.field(fresh_rows.EARLIEST, time_type)).append(
            pa.field(fresh_rows.LATEST, time_type)
        )
        return self._fetch_table(cur, sql, [], schema)

    def _append(self, cur: duckdb.DuckDBPyConnection, table: ServedTable, rows: pa.Table) -> bool:
        # A plain insert: this process holds the store's only writer (the writer lock), so no
        # key can have been stored since the look-up; were one there all the same, the
        # insert's constraint error aborts the transaction and the batch fails whole.
        columns = ", ".join(table.schema.names)
        source = _STAGED_PREFIX + table.name
        cur.register(source, rows)  # lives as long as the cursor (see _staged)
        cur.execute(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {source}")
        return True

    def _fetch_table(
        self, cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object], schema: pa.Schema
    ) -> pa.Table:
        # DuckDB hands its result over as Arrow columns: no Python object per value (a read of
        # 2,160 bars through tuples spent most of its time making and converting datetimes).
        table: pa.Table = cur.sql(sql, params=params).to_arrow_table()
        return table.rename_columns(schema.names).cast(schema)

    def memoised(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Per published snapshot on a read-only store (a snapshot never changes, so neither
        does what was read from it); every time on a writer."""
        if self._reader is None:
            return compute()
        return self._reader.memoised(key, compute)

    def recall(self, key: Hashable) -> object | None:
        return None if self._reader is None else self._reader.recall(key)

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
        if self._reader is not None:
            mode = f"read-only, snapshot {self._reader.snapshot_name()}"
        else:
            mode = "read-write, unpublished until closed"
        return f"DuckDB {duckdb.__version__}, {self.path} ({mode})"

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            with self._write_lock:
                self._writer.close()


def check_writable(path: Path) -> None:
    """Fail now, with StoreUnavailableError, if a load into the store at ``path`` could not
    publish: its folder cannot be created or written, or what is published cannot be read.
    For commands that do long work before they load (``rwa demo``). Takes no lock."""
    layout = SnapshotLayout(path)
    try:
        layout.folder.mkdir(parents=True, exist_ok=True)
        probe = layout.folder / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
        layout.lock_file.touch()
    except OSError as exc:
        raise StoreUnavailableError(f"DuckDB store {path} is not writable: {exc}") from exc
    published = layout.published()
    if published is not None:
        _open_read_only(published, f"DuckDB store {path}").close()


def _open_read_only(file: Path, label: str) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(file), read_only=True)
    except duckdb.Error as exc:
        raise StoreUnavailableError(f"cannot open {label} ({file}): {one_line(exc)}") from exc
    _use_utc(con)
    return con


def _use_utc(con: duckdb.DuckDBPyConnection) -> None:
    # GLOBAL so every cursor inherits it; a session SET would not reach them.
    con.execute("SET GLOBAL TimeZone = 'UTC'")


class _Writer:
    """The writer's side: lock, private copy, publish on close."""

    def __init__(self, layout: SnapshotLayout, wait_s: float, memory_limit: str) -> None:
        self._layout = layout
        self._lock: WriterLock | None = WriterLock(layout, wait_s)
        self._file: Path | None = None
        try:
            self._file, existed = start_snapshot(layout)
            # A load runs in the pipeline's process: its buffer pool is bounded (DuckDB's own
            # default, 80% of RAM, let the driver's memory grow with the store).
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(
                str(self._file), config={"memory_limit": memory_limit}
            )
            _use_utc(self._con)
        except BaseException as exc:
            if self._file is not None:
                discard(self._file)
            self._lock.release()
            if isinstance(exc, duckdb.Error | OSError):
                raise StoreUnavailableError(
                    f"cannot open DuckDB store {layout.path} for writing: {one_line(exc)}"
                ) from exc
            raise
        #: Whether to publish on close: after a committed write, or to create the store.
        self.changed = not existed

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreUnavailableError(f"DuckDB store {self._layout.path} is closed")
        return self._con

    def close(self) -> None:
        if self._con is None or self._lock is None or self._file is None:
            return
        try:
            if self.changed:
                self._con.execute("CHECKPOINT")  # a published snapshot has no log
            self._con.close()
            self._con = None
            if self.changed:
                publish(self._layout, self._file)
            else:
                discard(self._file)
        finally:
            if self._con is not None:  # failed before publishing: leave nothing half-done
                self._con.close()
                self._con = None
                discard(self._file)
            self._lock.release()
            self._lock = None


@dataclass(eq=False)
class _Opened:
    """One published snapshot a reader has open, with the reads in flight on it and the
    cursor of each thread that has read it (by thread id)."""

    file: Path
    con: duckdb.DuckDBPyConnection
    in_flight: int = 0
    retired: bool = False
    cursors: dict[int, duckdb.DuckDBPyConnection] = field(default_factory=dict)
    #: What was computed from this snapshot (``DuckDBStore.memoised``), by key, and its size.
    memo: dict[Hashable, object] = field(default_factory=dict)
    memo_bytes: int = 0
    #: A lock per key being computed, so concurrent misses of one key compute it once.
    computing: dict[Hashable, threading.RLock] = field(default_factory=dict)

    def thread_cursor(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's cursor, made on its first read (call under the reader's
        lock). A cursor is a connection of its own: making one per read cost more than a
        point query (0.1-0.2 ms), so each thread keeps its own; the cursors of threads that
        have ended (the server's pool retires idle ones) are closed when a new one is made."""
        ident = threading.get_ident()
        cursor = self.cursors.get(ident)
        if cursor is None:
            alive = {thread.ident for thread in threading.enumerate()}
            for gone in [i for i in self.cursors if i not in alive]:
                self.cursors.pop(gone).close()
            cursor = self.cursors[ident] = self.con.cursor()
        return cursor

    def close_if_idle(self) -> None:
        if self.retired and self.in_flight == 0:
            for cursor in self.cursors.values():
                cursor.close()
            self.cursors.clear()
            self.con.close()


def _memo_cost(value: object) -> int:
    """What a memoised value counts against :data:`MEMO_BYTES`: its size where it is bytes or
    a table, a nominal kilobyte for small objects."""
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, tuple):
        return sum(_memo_cost(item) for item in value)
    if isinstance(value, pa.Table):
        return int(value.nbytes)
    if "pandas" in sys.modules and isinstance(value, sys.modules["pandas"].DataFrame):
        # pandas is imported only where a caller keeps frames: not for every store user
        return int(value.memory_usage(index=True).sum())
    return 1024


class _Reader:
    """The reader's side: follows the published link, switching between reads."""

    def __init__(self, layout: SnapshotLayout, label: str) -> None:
        self._layout = layout
        self._label = label
        self._lock = threading.Lock()
        published = layout.published()
        if published is None:
            raise StoreUnavailableError(f"{label} does not exist; load data into it before reading")
        self._current: _Opened | None = _Opened(published, _open_read_only(published, label))

    def snapshot_name(self) -> str:
        with self._lock:
            return "closed" if self._current is None else self._current.file.name

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            opened = self._follow_link()
            opened.in_flight += 1
            try:
                cursor = opened.thread_cursor()
            except BaseException:
                opened.in_flight -= 1
                raise
        try:
            yield cursor
        finally:
            # The cursor serves this thread's next read: drop what a read left unfetched
            # (a fetchone), which DuckDB would otherwise refuse to start another query beside.
            cursor.abort()
            with self._lock:
                opened.in_flight -= 1
                opened.close_if_idle()

    def memoised(self, key: Hashable, compute: Callable[[], T]) -> T:
        """What ``compute`` returned for ``key`` on the current snapshot, computed now if it
        has not been. Concurrent misses of one key compute it once: the others wait for that
        result (a cold server under load would otherwise run the same read in every thread).
        The memo is emptied when it would pass :data:`MEMO_BYTES` (bytes values count their
        length, others a nominal kilobyte), so keys from client input cannot grow it without
        bound."""
        with self._lock:
            opened = self._follow_link()
            if key in opened.memo:
                return cast(T, opened.memo[key])
            computing = opened.computing.setdefault(key, threading.RLock())
        try:
            with computing:
                with self._lock:
                    if key in opened.memo:
                        return cast(T, opened.memo[key])
                value = compute()
                self._keep(opened, key, value)
                return value
        finally:
            with self._lock:
                if opened.computing.get(key) is computing:
                    del opened.computing[key]

    def _keep(self, opened: _Opened, key: Hashable, value: object) -> None:
        cost = _memo_cost(value)
        with self._lock:
            if opened.memo_bytes + cost > MEMO_BYTES:
                opened.memo.clear()
                opened.memo_bytes = 0
            opened.memo[key] = value
            opened.memo_bytes += cost

    def recall(self, key: Hashable) -> object | None:
        """The memoised value of ``key`` on the current snapshot, or None."""
        with self._lock:
            return self._follow_link().memo.get(key)

    def _follow_link(self) -> _Opened:
        """The snapshot to read now (call under the lock): the published one, opened when a
        load has published a new one since the last read. Should it not open (deleted by two
        quick loads since the link was read), the current one serves and the next read tries
        again: a read never fails because of a load."""
        current = self._current
        if current is None:
            raise StoreUnavailableError(f"{self._label} is closed")
        published = self._layout.published()
        if published is None or published == current.file:
            return current
        try:
            con = _open_read_only(published, self._label)
        except StoreUnavailableError as exc:
            _log.warning("still reading %s: %s", current.file.name, exc)
            return current
        current.retired = True
        current.close_if_idle()
        self._current = _Opened(published, con)
        return self._current

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.retired = True
                self._current.close_if_idle()
                self._current = None
