"""A thin, typed layer over Delta Lake that the silver and gold steps write through.

Two engines, one behaviour:

* **delta-rs** (default here: the delta-spark JARs can't be fetched on these machines). Spark
  computes, the micro-batch is collected as Arrow (bounded by ``maxFilesPerTrigger``) and
  ``deltalake`` commits it.
* **native delta-spark**, used automatically when its JARs are on the cluster's classpath.

Replays are idempotent in both: a commit carries an application transaction ``(app_id,
version)`` -- Delta's own mechanism for exactly-once streaming sinks -- and a batch whose version
is already recorded is skipped. Spark reads tables back through the files of the current
snapshot (``file_uris``), never by listing the table folder, which would also see files that
later versions removed.

Writers take turns per table: every write holds a lock of its table URI (see
:func:`table_lock`), shared by the threads of a process and the processes of a machine, so
writers that share a table (the silver datasets run concurrently share the quarantine, the
ledger and the quality results) never race for the same Delta version, and the replay check of
a transaction and its commit are one step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import operator
import os
import shutil
import stat
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import AddAction, RemoveAction

from pipelines.core.errors import ConfigurationError, NotFoundError
from pipelines.core.settings import LakeSettings, SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession

    from pipelines.lake.objects import ObjectStore


LOG = logging.getLogger(__name__)

#: Folder (under a table) of the groups of a write in groups (:meth:`DeltaLake.overwrite`); not
#: hidden (no leading ``_``), so vacuum sees what a failed write left there.
GROUPED_WRITE_PREFIX = "rwa-groups-"
#: Rows per batch of a driver-side scan (pyarrow's default).
SCAN_BATCH_ROWS = 131_072
#: Row group size (bytes, as parquet-mr estimates them before compression) of the Parquet a
#: Spark frame is staged as for delta-rs (:func:`spark_batches`): a few tens of thousands of
#: rows, a month of the demo's hourly bars. A write in groups scans the staged rows once per
#: group with a filter on the partitions, and a scan decodes every row group whose statistics
#: may hold them: with Spark's default (128 MB: one row group for the table) each group decoded
#: the whole table (see docs/benchmarks.md, session 19).
STAGED_ROW_GROUP_BYTES = 1024 * 1024
#: Commit metadata of an append of new days (:meth:`DeltaLake.append_new_days`): JSON, the
#: application transaction id of each window it carries -> rows appended for it.
APPENDED_ROWS = "rwa.appended_rows"
#: Tries to commit an append of new days while other writers commit to the table meanwhile.
APPEND_TRIES = 8


def bounded_scanner(
    dataset: pads.Dataset,
    *,
    columns: list[str] | None = None,
    filter: pc.Expression | None = None,
    batch_rows: int = SCAN_BATCH_ROWS,
) -> pads.Scanner:
    """A scan of ``dataset`` for a driver-side reader whose memory must not grow with the data:
    one file and one batch read ahead (pyarrow's defaults, 4 files and 16 batches of 128k rows,
    can hold a whole table of a few files)."""
    return dataset.scanner(
        columns=columns,
        filter=filter,
        batch_size=batch_rows,
        batch_readahead=1,
        fragment_readahead=1,
    )


_TABLE_LOCKS: dict[str, TableLock] = {}
_TABLE_LOCKS_GUARD = threading.Lock()
#: delta-spark takes a write's application transaction from session-wide settings: one
#: transactional native write at a time in the process, whatever its table.
_NATIVE_TXN_LOCK = threading.Lock()
_NATIVE_TXN_OPTIONS = (
    "spark.databricks.delta.write.txnAppId",
    "spark.databricks.delta.write.txnVersion",
)


def table_lock(uri: str) -> TableLock:
    """The lock of the Delta table at ``uri`` (a local path or a URL; the same table always
    gets the same lock): see :class:`TableLock`."""
    with _TABLE_LOCKS_GUARD:
        key = _table_key(uri)
        lock = _TABLE_LOCKS.get(key)
        if lock is None:
            lock = _TABLE_LOCKS[key] = TableLock(key)
        return lock


class TableLock:
    """One writer at a time of a table, among the threads of this process and among the
    processes of this machine (the silver executor and its driver, two ``rwa`` commands): a
    re-entrant thread lock (a write may call another on the same table: an ``overwrite_where``
    that creates the table), and, held by the outermost hold, an exclusive ``flock`` of a lock
    file: beside a local table (``.<table>.lock`` in its parent folder, like the silver
    checkpoints' locks), in a private folder of the temporary folder for a table at a URL. The
    system releases the file lock of a process that dies."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._path = _lock_path(key)
        self._threads = threading.RLock()
        self._depth = 0
        self._file: int | None = None

    def __enter__(self) -> TableLock:
        self._threads.acquire()
        try:
            if self._depth == 0:
                self._file = _locked_file(self._path, self._key)
            self._depth += 1
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._file is not None:
                file, self._file = self._file, None
                os.close(file)  # releases the flock
        finally:
            self._threads.release()


def _lock_path(key: str) -> Path:
    if "://" not in key:
        table = Path(key)
        table.parent.mkdir(parents=True, exist_ok=True)
        return table.parent / f".{table.name}.lock"
    folder = Path(tempfile.gettempdir()) / f"rwa-table-locks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = folder.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise ConfigurationError(
            f"{folder} (the locks of tables at URLs) must be a folder of this user that no one "
            f"else may use (mode 0700)"
        )
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"


def _locked_file(path: Path, table: str) -> int:
    """``path`` opened (created) and locked exclusively, waiting (said once in the log) while
    another process holds it."""
    while True:
        file = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                LOG.info("waiting for another process's write to %s", table)
                fcntl.flock(file, fcntl.LOCK_EX)
            if os.fstat(file).st_ino == path.stat().st_ino:
                return file
        except FileNotFoundError:
            pass  # removed meanwhile (a cleaner of the temporary folder): lock the new one
        except BaseException:
            os.close(file)
            raise
        os.close(file)


def _table_key(uri: str) -> str:
    """One name per table, however its URI is written."""
    return uri.rstrip("/") if "://" in uri else os.path.realpath(uri)


_P = ParamSpec("_P")
_R = TypeVar("_R")
_Lake = TypeVar("_Lake", bound="DeltaLake")


def _one_writer_per_table(
    write: Callable[Concatenate[_Lake, Any, str, _P], _R],
) -> Callable[Concatenate[_Lake, Any, str, _P], _R]:
    """A write method ``(self, source, uri, ...)`` run under the lock of the table at ``uri``."""

    @functools.wraps(write)
    def locked(self: _Lake, source: Any, uri: str, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with table_lock(uri):
            return write(self, source, uri, *args, **kwargs)

    return locked


@dataclass(frozen=True, slots=True)
class BatchTxn:
    """Identifies one streaming micro-batch for Delta's idempotent-write guard."""

    app_id: str
    version: int


@dataclass(frozen=True, slots=True)
class NewDays:
    """One window of days of a keyed write, for :meth:`DeltaLake.append_new_days`: its
    application transaction, its days (inclusive) and its rows, one per key, streamed when
    written (``rows()``)."""

    txn: BatchTxn
    first: dt.date
    last: dt.date
    rows: Callable[[], pa.RecordBatchReader]


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    rows_in: int
    inserted: int = 0
    updated: int = 0
    skipped_replay: bool = False


class DeltaLake:
    """Reads and writes Delta tables under the lake root with the configured engine.

    ``spark`` (the Spark section) picks the engine; without it (a reader with no Spark
    session: the models, the serving load, maintenance) delta-rs is used."""

    def __init__(self, lake: LakeSettings, spark: SparkSettings | None = None) -> None:
        self._lake = lake
        self._storage_options = lake.delta_storage_options()
        self._native = False
        self._store: ObjectStore | None = None
        if spark is not None:
            # PySpark is imported by what uses Spark only: a reader of the lake through
            # delta-rs (the API's pipeline status) starts without it (seconds saved).
            from pipelines.lake.spark import wants_native_delta

            self._native = wants_native_delta(spark)
        #: Tables kept open while :meth:`tables_kept_open` scopes are active (table key ->
        #: handle); a handle is used only under its table's lock.
        self._kept: dict[str, DeltaTable] = {}
        self._kept_scopes = 0
        self._kept_guard = threading.Lock()

    @property
    def native(self) -> bool:
        """Whether writes go through delta-spark (else delta-rs)."""
        return self._native

    @contextlib.contextmanager
    def tables_kept_open(self) -> Iterator[None]:
        """Within (a silver run), every table this lake checks a transaction of or writes
        through :meth:`merge` and :meth:`append_new_days` is opened once and then brought up to
        date with ``update_incremental()``, which reads only the commits made since, instead of
        being opened afresh (its whole log read again) at each check and each write: a silver
        batch does one of each per window of days. Up to date still means the latest commit
        in the log, whoever made it, before every transaction check. Scoped, not for the life
        of the lake, because a handle cannot tell that its table was deleted and created again
        under the same path (a handle at version 9 would not see a new table's versions 0-9)."""
        with self._kept_guard:
            self._kept_scopes += 1
        try:
            yield
        finally:
            with self._kept_guard:
                self._kept_scopes -= 1
                if not self._kept_scopes:
                    self._kept.clear()

    def _latest(self, uri: str) -> DeltaTable | None:
        """The table at ``uri`` at its latest version, or None when there is none. Called under
        the table's lock (:func:`table_lock`): a kept handle is shared."""
        key = _table_key(uri)
        with self._kept_guard:
            kept = self._kept.get(key) if self._kept_scopes else None
        if kept is not None:
            kept.update_incremental()
            return kept
        if not self.exists(uri):
            return None
        return self._keep(uri, DeltaTable(uri, storage_options=self._storage_options))

    def _keep(self, uri: str, table: DeltaTable) -> DeltaTable:
        with self._kept_guard:
            if self._kept_scopes:
                self._kept[_table_key(uri)] = table
        return table

    # --- reads ----------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        return bool(DeltaTable.is_deltatable(uri, storage_options=self._storage_options))

    def table(self, uri: str) -> DeltaTable:
        if not self.exists(uri):
            raise NotFoundError(f"no Delta table at {uri}")
        return DeltaTable(uri, storage_options=self._storage_options)

    def to_arrow(
        self,
        uri: str,
        *,
        as_of: int | dt.datetime | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """The current snapshot, or with ``as_of`` (a version or an instant) an earlier one
        (time travel; works for versions whose files vacuum has not removed); with ``columns``
        only those are read."""
        table = self.table(uri)
        if as_of is None:
            return table.to_pyarrow_dataset().to_table(columns=columns)
        try:
            table.load_as_version(as_of)
            return table.to_pyarrow_dataset().to_table(columns=columns)
        except (OSError, DeltaError) as error:
            raise NotFoundError(
                f"version {as_of} of {uri} is not readable (older than the vacuum retention "
                f"window, or never existed): {one_line_error(error)}"
            ) from error

    def batches(
        self, uri: str, *, batch_rows: int, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The current snapshot as Arrow batches of at most ``batch_rows`` rows, in the order
        :meth:`to_arrow` holds them, read one file at a time (little read-ahead): for readers
        whose memory must not grow with the table."""
        dataset = self.table(uri).to_pyarrow_dataset()
        yield from bounded_scanner(dataset, columns=columns, batch_rows=batch_rows).to_batches()

    def count_rows(self, uri: str) -> int:
        """Rows in the current snapshot (0 when the table does not exist yet)."""
        if not self.exists(uri):
            return 0
        return int(self.table(uri).to_pyarrow_dataset().count_rows())

    def max_value(self, uri: str, column: str) -> Any:
        """The largest non-null value of ``column`` (None when the table is absent or empty);
        reads only that column."""
        if not self.exists(uri):
            return None
        values = self.to_arrow(uri, columns=[column])[column]
        return pc.max(values).as_py()

    def to_spark(self, spark: SparkSession, uri: str) -> DataFrame:
        """The current snapshot as a Spark DataFrame."""
        if self._native:
            return spark.read.format("delta").load(uri)
        table = self.table(uri)
        features = set(table.protocol().reader_features or [])
        files = table.file_uris()
        # A plain Parquet read ignores deletion vectors / column mapping, and this JVM has no
        # S3 filesystem: in those cases go through Arrow on the driver.
        remote = bool(files) and not files[0].startswith(("/", "file:"))
        if features & {"deletionVectors", "columnMapping"} or remote:
            return spark.createDataFrame(table.to_pyarrow_table())
        from pyspark.sql.pandas.types import from_arrow_schema

        schema = from_arrow_schema(table.to_pyarrow_dataset().schema)
        if not files:
            return spark.createDataFrame([], schema)
        reader = spark.read.schema(schema)
        if table.metadata().partition_columns:
            reader = reader.option("basePath", table.table_uri)
        return reader.parquet(*files)

    def committed_txn_version(self, uri: str, app_id: str) -> int | None:
        """Highest batch version committed by ``app_id`` as of the latest commit of the table,
        or None (version 0 is valid)."""
        with table_lock(uri):
            table = self._latest(uri)
            version: int | None = None if table is None else table.transaction_version(app_id)
        return version

    # --- writes ---------------------------------------------------------------------------
    @_one_writer_per_table
    def merge(
        self,
        df: DataFrame | pa.Table | pa.RecordBatchReader,
        uri: str,
        *,
        keys: tuple[str, ...],
        update_when: str | None,
        partition_by: tuple[str, ...] = (),
        txn: BatchTxn | None = None,
        target_filter: str | None = None,
    ) -> WriteOutcome:
        """Upsert ``df`` by ``keys``: insert new keys; update matched rows where
        ``update_when`` (a predicate over ``s.``/``t.`` columns) holds -- or never, when it is
        None (insert-only). A replayed ``txn`` is skipped. ``df`` is a Spark DataFrame, an
        Arrow table the caller already holds, or a stream of Arrow batches (delta-rs then
        merges it without holding it whole). ``target_filter`` (SQL over ``t.`` columns) says
        where in the table every source row's match can only be, so only those files are read:
        delta-rs derives no such pruning from a streamed source."""
        # delta-spark reads the table itself: delta-rs opens it only for a transaction check
        # (it may not read every writer feature delta-spark writes).
        table = self._latest(uri) if txn is not None or not self._native else None
        if txn is not None and _committed(table, txn):
            return WriteOutcome(rows_in=0, skipped_replay=True)
        if self._native:
            if isinstance(df, pa.RecordBatchReader):
                df = df.read_all()
            if isinstance(df, pa.Table):
                df = _spark_session().createDataFrame(df)
            with _native_txn(df.sparkSession, txn):
                return _merge_native(df, uri, keys, update_when, partition_by)
        if isinstance(df, pa.Table | pa.RecordBatchReader):
            return self._merge_delta_rs(
                table, df, uri, keys, update_when, partition_by, txn, target_filter
            )
        with spark_batches(df) as rows:
            return self._merge_delta_rs(
                table, rows.stream(), uri, keys, update_when, partition_by, txn, target_filter
            )

    @_one_writer_per_table
    def append_new_days(
        self,
        windows: Sequence[NewDays],
        uri: str,
        *,
        day_column: str,
        partition_by: tuple[str, ...],
        schema: pa.Schema,
    ) -> dict[str, int]:
        """Append, as ONE commit carrying each one's application transaction, the windows of a
        keyed write whose days hold no row of the table yet; returns their transactions' app
        ids -> rows appended. The others (their days hold rows, the table holds their
        transaction, or the table is written by delta-spark) are the caller's to MERGE, with
        the MERGE's own transaction guard. ``day_column`` must be in the key: an appended key
        then cannot be in the table already, so the counts of a MERGE (inserted, 0 updated)
        are exact, at the cost of a plain write. Each window is written as a group of its own
        (see :meth:`_overwrite_in_groups`: a window bounds delta-rs's open partition writers).

        A day holds rows when a file of the latest snapshot has it as its partition value, or
        between its ``day_column`` statistics (a file without them holds every day). Another
        writer may commit rows into those days after that check: the commit is made with no
        retry on top of a newer version (``max_commit_retries=0``), so it fails instead of
        landing beside them; the table is then brought up to date, the windows judged again
        (those that now hold rows or whose transaction is now committed are given back to the
        MERGE, their written files deleted) and the rest committed again. A writer that read
        before this commit and commits after it conflicts with it (delta-rs marks no commit a
        blind append, so its MERGE must read the files added in its days; tested with two
        writers in tests/pipelines/lake/test_new_days.py)."""
        if self._native or not windows:
            return {}
        table = self._latest(uri)
        if table is None:
            table = self._keep(
                uri,
                DeltaTable.create(
                    uri,
                    schema,
                    mode="ignore",
                    partition_by=list(partition_by) or None,
                    storage_options=self._storage_options,
                ),
            )
        if table.metadata().partition_columns != list(partition_by) or not _same_types(
            table, schema
        ):
            # Another layout or other types: the MERGE writes it as it is (casting the rows
            # to the table's types, or failing); adopted files would keep the rows' types, and
            # a file typed unlike its table fails every reader.
            return {}
        pending = _new_windows(table, windows, day_column)
        folder = f"{GROUPED_WRITE_PREFIX}{uuid.uuid4().hex}"
        written: dict[str, _WrittenDays] = {}
        try:
            for number, window in enumerate(pending):
                group = f"{folder}/{number}"
                try:
                    counted = _CountedSource(window.rows())
                    adds = self._write_group(counted.stream(), uri, group, partition_by)
                except BaseException:
                    for days in written.values():  # moved into the table, never committed
                        self._discard(uri, days.adds)
                    raise
                written[window.txn.app_id] = _WrittenDays(window, adds, counted.rows)
            return self._commit_new_days(table, uri, written, day_column, partition_by)
        finally:
            self._remove_group_logs(uri.rstrip("/"), folder)

    def _commit_new_days(
        self,
        table: DeltaTable,
        uri: str,
        written: dict[str, _WrittenDays],
        day_column: str,
        partition_by: tuple[str, ...],
    ) -> dict[str, int]:
        """Commit the written windows (see :meth:`append_new_days`); app id -> rows of those
        committed."""
        for _ in range(APPEND_TRIES):
            if not written:
                return {}
            appended = {app_id: days.rows for app_id, days in written.items()}
            properties = CommitProperties(
                app_transactions=[
                    Transaction(app_id=days.window.txn.app_id, version=days.window.txn.version)
                    for days in written.values()
                ],
                custom_metadata={APPENDED_ROWS: json.dumps(appended, sort_keys=True)},
                max_commit_retries=0,
            )
            try:
                table.create_write_transaction(
                    [add for days in written.values() for add in days.adds],
                    mode="append",
                    schema=table.schema(),
                    partition_by=list(partition_by) or None,
                    commit_properties=properties,
                )
            except CommitFailedError:
                read = table.version()
                table.update_incremental()
                if table.version() == read:
                    raise  # not another writer's commit
                windows = [days.window for days in written.values()]
                still = {days.txn.app_id for days in _new_windows(table, windows, day_column)}
                for app_id in set(written) - still:
                    self._discard(uri, written.pop(app_id).adds)
                continue
            # A handle stays at its version after a commit of create_write_transaction.
            table.update_incremental()
            return appended
        for days in written.values():  # others keep committing: the MERGE takes its turn
            self._discard(uri, days.adds)
        return {}

    def _discard(self, uri: str, adds: list[AddAction]) -> None:
        """Delete the files of adds that will not be committed (on S3 they stay in their group
        folder, for a full vacuum)."""
        if not self._lake.is_s3:
            for add in adds:
                (Path(uri) / unquote(add.path)).unlink(missing_ok=True)

    @_one_writer_per_table
    def overwrite(
        self,
        df: DataFrame,
        uri: str,
        *,
        partition_by: tuple[str, ...] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Replace the table's contents with ``df`` (a new version; history is kept);
        ``metadata`` is kept in the commit (see :mod:`pipelines.contracts.lineage`)."""
        if self._native:
            (
                _with_metadata(df.write.format("delta"), metadata)
                .mode("overwrite")
                .option("overwriteSchema", "true")
                .partitionBy(*partition_by)
                .save(uri)
            )
            return int(df.sparkSession.read.format("delta").load(uri).count())
        with spark_batches(df) as rows:
            partitions = rows.distinct(partition_by) if partition_by else []
            # A commit of grouped files keeps the table's partition columns (delta-rs copies its
            # metadata): a change of partitioning takes the single write, which replaces them.
            if len(partitions) > self._lake.delta_partitions_per_write and (
                self._partition_columns(uri) in (None, list(partition_by))
            ):
                self._overwrite_in_groups(rows, uri, partition_by, partitions, metadata)
            else:
                write_deltalake(
                    uri,
                    rows.stream(),
                    mode="overwrite",
                    schema_mode="overwrite",
                    partition_by=list(partition_by) or None,
                    storage_options=self._storage_options,
                    commit_properties=_commit_metadata(metadata),
                )
        return rows.rows

    @_one_writer_per_table
    def overwrite_where(
        self,
        df: DataFrame,
        uri: str,
        *,
        predicate: str,
        partition_by: tuple[str, ...] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Replace only the rows matching ``predicate`` (SQL over the table's columns, e.g.
        ``date >= '2026-01-01' AND date <= '2026-01-31'``) with ``df``, in one atomic commit
        (Delta's ``replaceWhere``); rows outside it are kept. Every row of ``df`` must match the
        predicate. A table that does not exist yet is created with ``df``."""
        if not self.exists(uri):
            return self.overwrite(df, uri, partition_by=partition_by, metadata=metadata)
        if self._native:
            writer = _with_metadata(df.write.format("delta"), metadata)
            writer.mode("overwrite").option("replaceWhere", predicate).save(uri)
            return int(df.count())
        with spark_batches(df) as rows:
            write_deltalake(
                uri,
                rows.stream(),
                mode="overwrite",
                predicate=predicate,
                storage_options=self._storage_options,
                commit_properties=_commit_metadata(metadata),
            )
        return rows.rows

    def _partition_columns(self, uri: str) -> list[str] | None:
        """The table's partition columns, or None when there is no table yet."""
        if not self.exists(uri):
            return None
        return list(self.table(uri).metadata().partition_columns)

    def _overwrite_in_groups(
        self,
        rows: _StagedRows,
        uri: str,
        partition_by: tuple[str, ...],
        partitions: list[tuple[Any, ...]],
        metadata: Mapping[str, str] | None,
    ) -> None:
        """Replace the table with ``rows`` written a group of partitions at a time, committed as
        one transaction. delta-rs keeps a writer open per partition until a write ends (about
        0.75 MB each, whatever its rows: +270 MB for 360 days), so one write of every day grows
        the driver with the days. Each group is written as a table of its own in a folder under
        the table (delta-rs writes a table's files under its root), the groups' add actions,
        read from their logs with their statistics, are committed to the table together:
        readers see the old contents or the new, never a part. Files of a write that failed
        before its commit are named by no version: they take space until a full vacuum
        (``DeltaTable.vacuum(full=True)``; the lite vacuum of `rwa maintain` does not see them)."""
        root = uri.rstrip("/")
        folder = f"{GROUPED_WRITE_PREFIX}{uuid.uuid4().hex}"
        size = self._lake.delta_partitions_per_write
        adds: list[AddAction | RemoveAction] = []
        schema: Any = None
        for number, first in enumerate(range(0, len(partitions), size)):
            group = f"{folder}/{number}"
            where = _in_partitions(partition_by, partitions[first : first + size])
            adds.extend(self._write_group(rows.stream(where), uri, group, partition_by))
            schema = DeltaTable(f"{root}/{group}", storage_options=self._storage_options).schema()
        commit = _commit_metadata(metadata)
        if not self.exists(uri):
            DeltaTable.create(
                uri,
                schema,
                partition_by=list(partition_by),
                storage_options=self._storage_options,
                commit_properties=commit,
            )
        self.table(uri).create_write_transaction(
            adds,
            mode="overwrite",
            schema=schema,
            partition_by=list(partition_by),
            commit_properties=commit,
        )
        self._remove_group_logs(root, folder)

    def _write_group(
        self, rows: pa.RecordBatchReader, uri: str, group: str, partition_by: tuple[str, ...]
    ) -> list[AddAction]:
        """Write ``rows`` as a table of its own in the folder ``group`` under the table at
        ``uri`` and return its add actions for that table (see :meth:`_adopt_files`), to be
        committed there with others."""
        root = uri.rstrip("/")
        write_deltalake(
            f"{root}/{group}",
            rows,
            mode="error",
            partition_by=list(partition_by) or None,
            storage_options=self._storage_options,
        )
        log_key = f"{lake_key(self._lake, uri)}/{group}/_delta_log/{0:020d}.json"
        log = self._object_store().get(log_key).decode()
        return self._adopt_files(log, root, group)

    def _object_store(self) -> ObjectStore:
        """The lake's object store, made once (on S3 a client per group's log read cost a
        boto3 client each)."""
        if self._store is None:
            from pipelines.lake.objects import open_object_store

            self._store = open_object_store(self._lake)
        return self._store

    def _remove_group_logs(self, root: str, folder: str) -> None:
        """Once the groups under ``folder`` are committed or given up, what is left of them
        (their logs) names nothing the table needs (on S3 the group logs stay beside the files;
        only a full vacuum would remove them). The write is done: a folder that cannot be
        removed must not fail it."""
        if not self._lake.is_s3:
            shutil.rmtree(Path(root) / folder, ignore_errors=True)

    def _adopt_files(self, log: str, root: str, group: str) -> list[AddAction]:
        """The add actions of a group's commit (``log``: its JSON lines), for the table at
        ``root``. On a local lake the files move (a rename) to the table's own partition
        folders, where Spark's partition discovery expects them (a file under the group's folder
        makes it fail); on S3 they stay (a move is a copy there, and Spark reads an S3 table
        through Arrow, not by its paths)."""
        adds = []
        for line in log.splitlines():
            add = json.loads(line).get("add")
            if not add:
                continue
            path = str(add["path"])
            if self._lake.is_s3:
                path = f"{group}/{path}"
            else:
                _move_into_table(Path(root) / group / unquote(path), Path(root) / unquote(path))
            adds.append(
                AddAction(
                    path=path,
                    size=int(add["size"]),
                    partition_values=add["partitionValues"],
                    modification_time=int(add["modificationTime"]),
                    data_change=True,
                    stats=add["stats"],
                )
            )
        return adds

    def _merge_delta_rs(
        self,
        table: DeltaTable | None,
        source: pa.Table | pa.RecordBatchReader,
        uri: str,
        keys: tuple[str, ...],
        update_when: str | None,
        partition_by: tuple[str, ...],
        txn: BatchTxn | None,
        target_filter: str | None = None,
    ) -> WriteOutcome:
        commit = (
            CommitProperties(app_transactions=[Transaction(app_id=txn.app_id, version=txn.version)])
            if txn is not None
            else None
        )
        if table is None:
            # An empty batch still creates the table (with the schema) and records the txn.
            counted = _CountedSource(source)
            write_deltalake(
                uri,
                counted.stream(),
                mode="append",
                partition_by=list(partition_by) or None,
                storage_options=self._storage_options,
                commit_properties=commit,
            )
            return WriteOutcome(rows_in=counted.rows, inserted=counted.rows)
        if isinstance(source, pa.Table) and source.num_rows == 0 and commit is None:
            return WriteOutcome(rows_in=0)
        matches = [f"t.{k} = s.{k}" for k in keys]
        merger = table.merge(
            source=source,
            predicate=" AND ".join([f"({target_filter})", *matches] if target_filter else matches),
            source_alias="s",
            target_alias="t",
            commit_properties=commit,
        )
        if update_when is not None:
            merger = merger.when_matched_update_all(predicate=update_when)
        metrics: dict[str, Any] = merger.when_not_matched_insert_all().execute()
        return WriteOutcome(
            rows_in=int(metrics.get("num_source_rows", 0)),
            inserted=int(metrics.get("num_target_rows_inserted", 0)),
            updated=int(metrics.get("num_target_rows_updated", 0)),
        )


def _merge_native(
    df: DataFrame,
    uri: str,
    keys: tuple[str, ...],
    update_when: str | None,
    partition_by: tuple[str, ...],
) -> WriteOutcome:
    from delta.tables import DeltaTable as SparkDeltaTable  # needs the JARs

    spark = df.sparkSession
    rows = df.count()
    if not SparkDeltaTable.isDeltaTable(spark, uri):
        df.write.format("delta").mode("append").partitionBy(*partition_by).save(uri)
        return WriteOutcome(rows_in=rows, inserted=rows)
    merger = (
        SparkDeltaTable.forPath(spark, uri)
        .alias("t")
        .merge(df.alias("s"), " AND ".join(f"t.{k} = s.{k}" for k in keys))
    )
    if update_when is not None:
        merger = merger.whenMatchedUpdateAll(condition=update_when)
    merger.whenNotMatchedInsertAll().execute()
    return WriteOutcome(rows_in=rows)


@contextlib.contextmanager
def _native_txn(spark: SparkSession, txn: BatchTxn | None) -> Iterator[None]:
    """delta-spark's idempotent-DML options for one write: the same (appId, version) is applied
    once. They are session-wide, so one such write at a time, and they are unset after it."""
    if txn is None:
        yield
        return
    with _NATIVE_TXN_LOCK:
        spark.conf.set(_NATIVE_TXN_OPTIONS[0], txn.app_id)
        spark.conf.set(_NATIVE_TXN_OPTIONS[1], str(txn.version))
        try:
            yield
        finally:
            for option in _NATIVE_TXN_OPTIONS:
                spark.conf.unset(option)


@contextlib.contextmanager
def spark_batches(df: DataFrame) -> Iterator[_StagedRows]:
    """``df`` as streams of Arrow batches that never are whole on the driver: Spark writes it as
    Parquet into a scratch folder (on the executors), in row groups of
    :data:`STAGED_ROW_GROUP_BYTES`, each stream reads it back batch by batch, typed as
    ``DataFrame.toArrow`` would type it. The folder is removed on exit."""
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(df.schema, timezone="UTC")
    with tempfile.TemporaryDirectory(prefix="rwa-spark-batches-") as folder:
        writer = df.write.mode("overwrite").option("parquet.block.size", STAGED_ROW_GROUP_BYTES)
        writer.parquet(folder)
        yield _StagedRows(pads.dataset(folder, format="parquet"), schema)


class _StagedRows:
    """Rows Spark staged as Parquet, read back as typed streams; counts the rows streamed."""

    def __init__(self, dataset: pads.Dataset, schema: pa.Schema) -> None:
        self._dataset = dataset
        self._schema = schema
        self.rows = 0

    @property
    def files(self) -> list[str]:
        """The staged Parquet files."""
        return list(cast(pads.FileSystemDataset, self._dataset).files)

    def stream(self, where: pc.Expression | None = None) -> pa.RecordBatchReader:
        """The rows (those ``where`` holds), in the order Spark wrote them."""
        batches = bounded_scanner(self._dataset, filter=where).to_batches()
        typed = (batch.select(self._schema.names).cast(self._schema) for batch in batches)
        return pa.RecordBatchReader.from_batches(self._schema, self._counted(typed))

    def distinct(self, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """The distinct value tuples of ``columns`` (partition columns: a few per day), sorted
        with nulls last; scanned a batch at a time."""
        found: set[tuple[Any, ...]] = set()
        for batch in bounded_scanner(self._dataset, columns=list(columns)).to_batches():
            found.update(zip(*(batch.column(c).to_pylist() for c in columns), strict=True))
        return sorted(found, key=lambda values: [(v is None, v) for v in values])

    def _counted(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.rows += batch.num_rows
            yield batch


class _CountedSource:
    """A table or a stream of batches, written as a stream that counts its rows."""

    def __init__(self, source: pa.Table | pa.RecordBatchReader) -> None:
        self._source = source
        self.rows = 0

    def stream(self) -> pa.RecordBatchReader:
        source = self._source
        reader = source if isinstance(source, pa.RecordBatchReader) else source.to_reader()
        return pa.RecordBatchReader.from_batches(reader.schema, self._batches(reader))

    def _batches(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            self.rows += batch.num_rows
            yield batch


@dataclass(frozen=True, slots=True)
class _WrittenDays:
    """A window of :meth:`DeltaLake.append_new_days` written, not yet committed."""

    window: NewDays
    adds: list[AddAction]
    rows: int


def _same_types(table: DeltaTable, schema: pa.Schema) -> bool:
    """Whether ``schema`` has the table's columns, in order, with the table's types."""
    stored = pa.schema(cast(Any, table.schema().to_arrow()))
    return [(f.name, f.type) for f in stored] == [(f.name, f.type) for f in schema]


def _new_windows(table: DeltaTable, windows: Sequence[NewDays], day: str) -> list[NewDays]:
    """The windows whose transaction ``table`` does not hold and none of whose days holds a
    file of it (see :meth:`DeltaLake.append_new_days`)."""
    spans = _day_spans(table, day)
    return [
        window
        for window in windows
        if not _committed(table, window.txn)
        and not any(first <= window.last and window.first <= last for first, last in spans)
    ]


def _day_spans(table: DeltaTable, day: str) -> list[tuple[dt.date, dt.date]]:
    """The days each file of ``table`` may hold rows of: its partition value of ``day``, or the
    range of its statistics; every day for a file that has neither (or not as dates)."""
    actions = pa.table(table.get_add_actions(flatten=True))
    if f"partition.{day}" in actions.column_names:
        firsts = lasts = actions[f"partition.{day}"].to_pylist()
    elif f"min.{day}" in actions.column_names and f"max.{day}" in actions.column_names:
        firsts, lasts = actions[f"min.{day}"].to_pylist(), actions[f"max.{day}"].to_pylist()
    else:
        firsts = lasts = [None] * actions.num_rows
    return [
        (_a_day(first, dt.date.min), _a_day(last, dt.date.max))
        for first, last in set(zip(firsts, lasts, strict=True))
    ]


def _a_day(value: Any, otherwise: dt.date) -> dt.date:
    """``value`` if it is a day (not a null, nor an instant), else ``otherwise``."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    return otherwise


def _move_into_table(source: Path, target: Path) -> None:
    """Move a group's file to its place in the table. A partition folder the table does not
    have yet moves whole, with every file of the group in it (one rename, where a folder
    made, a file moved and the emptied folder removed cost three file system operations
    per file: seconds for a few thousand days)."""
    if not source.exists() and target.exists():
        return  # moved with its folder
    folder = target.parent
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            source.parent.rename(folder)
            return
        except OSError:
            pass  # made meanwhile by another writer: the file alone moves
    folder.mkdir(parents=True, exist_ok=True)
    source.replace(target)


def _committed(table: DeltaTable | None, txn: BatchTxn) -> bool:
    """Whether ``table`` (at the version it is loaded at) holds ``txn``'s commit."""
    done = None if table is None else table.transaction_version(txn.app_id)
    return done is not None and done >= txn.version


def _in_partitions(columns: tuple[str, ...], partitions: list[tuple[Any, ...]]) -> pc.Expression:
    """Rows whose ``columns`` hold one of ``partitions`` (value tuples; None matches null)."""
    matches = []
    for values in partitions:
        terms = [
            pc.field(c).is_null() if v is None else pc.field(c) == pa.scalar(v)
            for c, v in zip(columns, values, strict=True)
        ]
        matches.append(functools.reduce(operator.and_, terms))
    return functools.reduce(operator.or_, matches)


def lake_key(lake: LakeSettings, uri: str) -> str:
    """``uri`` relative to the lake root (the object store's key space)."""
    return uri.removeprefix(lake.uri()).strip("/")


def _commit_metadata(metadata: Mapping[str, str] | None) -> CommitProperties | None:
    return None if not metadata else CommitProperties(custom_metadata=dict(metadata))


def _with_metadata(writer: DataFrameWriter, metadata: Mapping[str, str] | None) -> Any:
    """delta-spark keeps one free-text ``userMetadata`` per commit: the stamp as JSON."""
    if not metadata:
        return writer
    return writer.option("userMetadata", json.dumps(dict(metadata), sort_keys=True))


def _spark_session() -> SparkSession:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("native Delta writes need an active Spark session")
    return spark


def one_line_error(error: BaseException) -> str:
    """delta-rs errors span several lines; keep the first, which says what failed."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
