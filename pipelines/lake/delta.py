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

Writers in one process take turns per table: every write holds a lock of its table URI (see
:func:`table_lock`), so threads that share a table (the silver datasets run concurrently share
the quarantine, the ledger and the quality results) never race for the same Delta version, and
the replay check of a transaction and its commit are one step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import operator
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction, RemoveAction

from pipelines.core.errors import NotFoundError
from pipelines.core.settings import LakeSettings, SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession


#: Folder (under a table) of the groups of a write in groups (:meth:`DeltaLake.overwrite`); not
#: hidden (no leading ``_``), so vacuum sees what a failed write left there.
GROUPED_WRITE_PREFIX = "rwa-groups-"
#: Rows per batch of a driver-side scan (pyarrow's default).
SCAN_BATCH_ROWS = 131_072


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


_TABLE_LOCKS: dict[str, threading.RLock] = {}
_TABLE_LOCKS_GUARD = threading.Lock()
#: delta-spark takes a write's application transaction from session-wide settings: one
#: transactional native write at a time in the process, whatever its table.
_NATIVE_TXN_LOCK = threading.Lock()
_NATIVE_TXN_OPTIONS = (
    "spark.databricks.delta.write.txnAppId",
    "spark.databricks.delta.write.txnVersion",
)


def table_lock(uri: str) -> threading.RLock:
    """The process's lock of the Delta table at ``uri`` (a local path or a URL; the same table
    always gets the same lock). Re-entrant: a write may call another on the same table (an
    ``overwrite_where`` that creates the table)."""
    key = uri.rstrip("/") if "://" in uri else os.path.realpath(uri)
    with _TABLE_LOCKS_GUARD:
        return _TABLE_LOCKS.setdefault(key, threading.RLock())


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
        if spark is not None:
            # PySpark is imported by what uses Spark only: a reader of the lake through
            # delta-rs (the API's pipeline status) starts without it (seconds saved).
            from pipelines.lake.spark import wants_native_delta

            self._native = wants_native_delta(spark)

    @property
    def native(self) -> bool:
        """Whether writes go through delta-spark (else delta-rs)."""
        return self._native

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
        """Highest batch version committed by ``app_id``, or None (version 0 is valid)."""
        if not self.exists(uri):
            return None
        version: int | None = self.table(uri).transaction_version(app_id)
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
        if txn is not None and self._already_committed(uri, txn):
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
                df, uri, keys, update_when, partition_by, txn, target_filter
            )
        with spark_batches(df) as rows:
            return self._merge_delta_rs(
                rows.stream(), uri, keys, update_when, partition_by, txn, target_filter
            )

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
        from pipelines.lake.objects import open_object_store

        store = open_object_store(self._lake)
        root, key_root = uri.rstrip("/"), lake_key(self._lake, uri)
        folder = f"{GROUPED_WRITE_PREFIX}{uuid.uuid4().hex}"
        size = self._lake.delta_partitions_per_write
        adds: list[AddAction | RemoveAction] = []
        schema: Any = None
        for number, first in enumerate(range(0, len(partitions), size)):
            group = f"{folder}/{number}"
            write_deltalake(
                f"{root}/{group}",
                rows.stream(_in_partitions(partition_by, partitions[first : first + size])),
                mode="error",
                partition_by=list(partition_by),
                storage_options=self._storage_options,
            )
            schema = DeltaTable(f"{root}/{group}", storage_options=self._storage_options).schema()
            log = store.get(f"{key_root}/{group}/_delta_log/{0:020d}.json").decode()
            adds.extend(self._adopt_files(log, root, group))
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
        if not self._lake.is_s3:
            # What is left of the groups (their logs) names nothing the table needs (on S3 the
            # group logs stay beside the files; only a full vacuum would remove them). The
            # write is committed: a folder that cannot be removed must not fail it.
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
                target = Path(root) / unquote(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                (Path(root) / group / unquote(path)).replace(target)
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

    def _already_committed(self, uri: str, txn: BatchTxn) -> bool:
        done = self.committed_txn_version(uri, txn.app_id)
        return done is not None and done >= txn.version

    def _merge_delta_rs(
        self,
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
        if not self.exists(uri):
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
        merger = DeltaTable(uri, storage_options=self._storage_options).merge(
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
    Parquet into a scratch folder (on the executors), each stream reads it back batch by batch,
    typed as ``DataFrame.toArrow`` would type it. The folder is removed on exit."""
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(df.schema, timezone="UTC")
    with tempfile.TemporaryDirectory(prefix="rwa-spark-batches-") as folder:
        df.write.mode("overwrite").parquet(folder)
        yield _StagedRows(pads.dataset(folder, format="parquet"), schema)


class _StagedRows:
    """Rows Spark staged as Parquet, read back as typed streams; counts the rows streamed."""

    def __init__(self, dataset: pads.Dataset, schema: pa.Schema) -> None:
        self._dataset = dataset
        self._schema = schema
        self.rows = 0

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
