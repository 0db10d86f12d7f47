"""One-line, read-only access to the lake for notebooks and scripts.

    >>> from pipelines.lake.access import open_lake
    >>> lake = open_lake()  # the lake of the settings: a local folder or s3://bucket/prefix
    >>> bars = lake.read("gold/ohlcv_1h", asset="btc", start="2026-01-01", end="2026-02-01",
    ...                  columns=["ts", "close"])
    >>> lake.read("gold/ohlcv_1d", as_of=3)                      # Delta time travel: version 3
    >>> lake.tables()                                            # names, schemas, row counts
    >>> lake.sql("SELECT asset_id, avg(close) FROM gold.ohlcv_1d GROUP BY 1")

A thin typed layer over the engines, as delta-rs' own Python package is over its Rust core:
tables are named as the pipeline and Dagster name them (:mod:`pipelines.lake.tables`); a read
becomes one :class:`pyarrow.dataset.Dataset` scan of the snapshot delta-rs resolves (so the
asset, time window, ``where`` and column selection are pushed down: partitions and files whose
Delta statistics exclude the filter are never opened, see :attr:`Scan.files`); SQL runs in
DuckDB over those same datasets (lazily: DuckDB pushes its projections and filters into the
scan). Mistakes raise the classes of :mod:`pipelines.lake.errors`, naming what exists.

Windows are half-open, ``start <= t < end``, in UTC (a naive time or a date means UTC); one
year of bars is ``start="2025-01-01", end="2026-01-01"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from pipelines.core.settings import LakeSettings, Settings
from pipelines.lake.delta import one_line_error
from pipelines.lake.envelopes import ENVELOPE_SCHEMA, object_keys, read_envelopes
from pipelines.lake.errors import (
    TableNotBuiltError,
    UnknownAssetError,
    UnknownColumnError,
    UnknownTableError,
    UnsupportedFilterError,
    VersionNotFoundError,
)
from pipelines.lake.tables import LAKE_TABLES, LAYERS, LakeTable, lake_table, time_column_of

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.lake.objects import ObjectStore

#: A window bound: an ISO text (``"2026-01-01"``, ``"2026-01-01T12:00+00:00"``), a date or a
#: time (naive means UTC).
TimeBound = str | dt.date | dt.datetime
#: A past snapshot: a Delta version number, or an instant (the version current then).
AsOf = int | TimeBound
#: Equality filters: a column and a value, or a sequence of values (any of them).
Where = Mapping[str, Any]

ASSET_COLUMN = "asset_id"

__all__ = [
    "AsOf",
    "Commit",
    "Filters",
    "Lake",
    "Scan",
    "TableInfo",
    "TimeBound",
    "Where",
    "open_lake",
]


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A lake table as :meth:`Lake.tables` lists it. ``rows`` and ``files`` come from the Delta
    log's statistics (bronze: ``rows`` is None, ``files`` counts its objects)."""

    name: str
    layer: str
    schema: pa.Schema
    partition_by: tuple[str, ...]
    rows: int | None
    files: int
    version: int | None
    modified_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Commit:
    """One version of a table's history (what time travel can go back to)."""

    version: int
    timestamp: dt.datetime
    operation: str


class Filters(TypedDict, total=False):
    """What a read keeps, all pushed down (see :meth:`Lake.read`)."""

    asset: str | Sequence[str] | None
    start: TimeBound | None
    end: TimeBound | None
    columns: Sequence[str] | None
    where: Where | None
    as_of: AsOf | None


@dataclass(frozen=True)
class Scan:
    """A pushed-down read of one table, not yet executed: :attr:`files` says which data files
    (or bronze objects) it opens; :meth:`to_arrow` / :meth:`to_pandas` run it."""

    table: str
    dataset: ds.Dataset
    columns: list[str] | None
    filter: ds.Expression | None
    #: The Delta version read (None for bronze, which has no versions).
    version: int | None
    bronze_files: tuple[str, ...] | None = None
    #: ``filter`` with text columns cast before they are compared (see :meth:`to_arrow`).
    text_cast_filter: ds.Expression | None = None

    @cached_property
    def files(self) -> tuple[str, ...]:
        """The files the scan opens: those whose partition values and statistics may hold
        matching rows (all others are skipped unread)."""
        if self.bronze_files is not None:
            return self.bronze_files
        fragments = self.dataset.get_fragments(filter=self.filter)
        return tuple(getattr(fragment, "path", "") for fragment in fragments)

    def to_arrow(self) -> pa.Table:
        try:
            return self.dataset.to_table(columns=self.columns, filter=self.filter)
        except pa.ArrowNotImplementedError:
            # Files rewritten by delta-rs' MERGE hold text as string_view, which Arrow cannot
            # compare with the table's string type: compare the text cast (which skips no
            # file by its statistics, so only where it is needed).
            if self.text_cast_filter is None:
                raise
            return self.dataset.to_table(columns=self.columns, filter=self.text_cast_filter)

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()


class Lake:
    """The lake of one :class:`~pipelines.core.settings.LakeSettings`, read by table name."""

    def __init__(self, settings: LakeSettings) -> None:
        self.settings = settings
        self._storage_options = settings.delta_storage_options()

    def __repr__(self) -> str:
        return f"Lake({self.settings.root!r})"

    @cached_property
    def _objects(self) -> ObjectStore:
        # Imported on first bronze read: boto3 costs a second or two to import.
        from pipelines.lake.objects import open_object_store

        return open_object_store(self.settings)

    # --- reads ------------------------------------------------------------------------------
    def read(
        self,
        table: str,
        *,
        asset: str | Sequence[str] | None = None,
        start: TimeBound | None = None,
        end: TimeBound | None = None,
        columns: Sequence[str] | None = None,
        where: Where | None = None,
        as_of: AsOf | None = None,
    ) -> pd.DataFrame:
        """Rows of ``table`` (``layer/name``, e.g. ``gold/ohlcv_1h``) as a pandas DataFrame,
        every filter pushed down to the scan:

        * ``asset``: an ``asset_id`` or several;
        * ``start``/``end``: the half-open window on the table's time column (``ts``, else
          ``date``, else its declared or first time stamp column; bronze: ``fetched_at``);
        * ``columns``: only these are read (all by default);
        * ``where``: equality on any column (``{"source": "simulated"}``; a list means any of);
        * ``as_of``: a past Delta version number or instant (time travel).
        """
        filters = Filters(
            asset=asset, start=start, end=end, columns=columns, where=where, as_of=as_of
        )
        return self.read_arrow(table, **filters).to_pandas()

    def read_arrow(self, table: str, **filters: Unpack[Filters]) -> pa.Table:
        """Rows of ``table`` as an Arrow table; the filters are :meth:`read`'s."""
        scan = self.scan(table, **filters)
        rows = scan.to_arrow()
        asset = filters.get("asset")
        if asset is not None and rows.num_rows == 0:
            # Only an empty answer pays for the check: a typo is told apart from no data.
            self._check_assets(scan, _as_list(asset))
        return rows

    def scan(self, table: str, **filters: Unpack[Filters]) -> Scan:
        """The read of ``table`` with :meth:`read`'s filters, planned but not run."""
        declared = lake_table(table)
        if declared.layer == "bronze":
            return self._scan_bronze(declared, filters)
        delta = self._open(declared, filters.get("as_of"))
        dataset = delta.to_pyarrow_dataset()
        return Scan(
            declared.qualified,
            dataset,
            columns=_checked_columns(declared, dataset.schema, filters),
            filter=_filter(declared, dataset.schema, filters),
            version=delta.version(),
            text_cast_filter=_filter(declared, dataset.schema, filters, cast_text=True),
        )

    def _open(self, table: LakeTable, as_of: AsOf | None) -> DeltaTable:
        uri = self.settings.uri(table.layer, table.name)
        try:
            delta = DeltaTable(uri, storage_options=self._storage_options)
        except TableNotFoundError as error:
            raise TableNotBuiltError(table.qualified, uri) from error
        if as_of is None:
            return delta
        if isinstance(as_of, bool):  # a bool is an int: refuse it before it reads version 1
            raise VersionNotFoundError(table.qualified, as_of, "give a version or an instant")
        try:
            version = as_of if isinstance(as_of, int) else _version_at(delta, _instant(as_of))
            delta.load_as_version(version)
        except (DeltaError, OSError, ValueError) as error:
            latest = DeltaTable(uri, storage_options=self._storage_options).version()
            raise VersionNotFoundError(
                table.qualified,
                as_of,
                f"its history is versions 0..{latest} (older ones may be vacuumed): "
                f"{one_line_error(error)}",
            ) from error
        return delta

    def _scan_bronze(self, table: LakeTable, filters: Filters) -> Scan:
        if filters.get("as_of") is not None:
            raise UnsupportedFilterError(
                f"{table.qualified} is immutable raw objects with no versions: drop as_of"
            )
        selected = _checked_columns(table, ENVELOPE_SCHEMA, filters)
        expression = _filter(table, ENVELOPE_SCHEMA, filters)
        first, last = _fetch_days(filters.get("start"), filters.get("end"))
        sources = _as_list((filters.get("where") or {}).get("source", ()))
        keys = object_keys(
            self._objects, table.name, sources=sources, first_day=first, last_day=last
        )
        read = read_envelopes(self._objects, keys)
        return Scan(
            table.qualified,
            ds.dataset(read.table),
            columns=selected,
            filter=expression,
            version=None,
            bronze_files=read.files,
        )

    def _check_assets(self, scan: Scan, assets: list[str]) -> None:
        in_table = scan.dataset.to_table(columns=[ASSET_COLUMN])[ASSET_COLUMN]
        known = {str(a) for a in pc.unique(in_table).to_pylist() if a is not None}
        # Imported here: the reference catalogue is only needed to explain an empty answer.
        from pipelines.reference import load_catalog

        known |= {asset.asset_id for asset in load_catalog().assets}
        for asset in assets:
            if asset not in known:
                raise UnknownAssetError(scan.table, asset, sorted(known))

    # --- the catalogue --------------------------------------------------------------------
    def tables(self, layer: str | None = None) -> list[TableInfo]:
        """Every table the lake holds (of ``layer`` when given), with its schema and row
        count from the Delta log (no data file is opened)."""
        if layer is not None and layer not in LAYERS:
            raise UnknownTableError(layer, list(LAYERS))
        infos = []
        for table in LAKE_TABLES.values():
            if layer is not None and table.layer != layer:
                continue
            info = self._bronze_info(table) if table.layer == "bronze" else self._info(table)
            if info is not None:
                infos.append(info)
        return infos

    def _info(self, table: LakeTable) -> TableInfo | None:
        try:
            delta = DeltaTable(
                self.settings.uri(table.layer, table.name), storage_options=self._storage_options
            )
        except TableNotFoundError:
            return None
        actions = pa.table(delta.get_add_actions(flatten=True))
        counts = actions["num_records"] if "num_records" in actions.column_names else None
        rows = pc.sum(counts).as_py() if counts is not None and counts.null_count == 0 else None
        if rows is None:  # a file without statistics: count from the Parquet footers
            rows = delta.to_pyarrow_dataset().count_rows()
        last = delta.history(1)[0]
        return TableInfo(
            name=table.qualified,
            layer=table.layer,
            schema=_arrow_schema(delta),
            partition_by=tuple(delta.metadata().partition_columns),
            rows=int(rows or 0),
            files=actions.num_rows,
            version=delta.version(),
            modified_at=_from_millis(last.get("timestamp")),
        )

    def _bronze_info(self, table: LakeTable) -> TableInfo | None:
        keys = object_keys(self._objects, table.name)
        if not keys:
            return None
        return TableInfo(
            name=table.qualified,
            layer=table.layer,
            schema=ENVELOPE_SCHEMA,
            partition_by=table.partition_by,
            rows=None,
            files=len(keys),
            version=None,
            modified_at=None,
        )

    def schema(self, table: str) -> pa.Schema:
        """The current schema of ``table`` (from the Delta log)."""
        declared = lake_table(table)
        if declared.layer == "bronze":
            return ENVELOPE_SCHEMA
        return _arrow_schema(self._open(declared, None))

    def history(self, table: str) -> list[Commit]:
        """The versions of ``table``, newest first: what ``as_of`` can name."""
        declared = lake_table(table)
        if declared.layer == "bronze":
            raise UnsupportedFilterError(f"{declared.qualified} has no versions")
        return [
            Commit(int(c["version"]), _from_millis(c["timestamp"]), str(c.get("operation", "")))
            for c in self._open(declared, None).history()
        ]

    # --- SQL ------------------------------------------------------------------------------
    def sql(self, query: str) -> pd.DataFrame:
        """Run DuckDB SQL over the lake tables it names as ``layer.name``
        (``SELECT ... FROM gold.ohlcv_1d``); see :meth:`sql_arrow`."""
        return self.sql_arrow(query).to_pandas()

    def sql_arrow(self, query: str) -> pa.Table:
        """Run DuckDB SQL over the lake tables it names as ``layer.name``, as Arrow. Each is
        the current snapshot's Arrow dataset, scanned lazily: DuckDB pushes its column
        selection and filters into the scan (partition and file skipping)."""
        from pipelines.lake.sql import run_sql

        return run_sql(self, query)


def open_lake(root: str | Path | None = None, *, settings: Settings | None = None) -> Lake:
    """The lake of the settings (``RWA_LAKE_ROOT`` and the S3 fields, or their defaults), or
    of ``root`` (a folder or ``s3://bucket/prefix``) with the other settings as they are."""
    base = settings or Settings()
    if root is None:
        return Lake(base.lake)
    return Lake(base.lake.model_copy(update={"root": str(root)}))


# --- filters ------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _checked_columns(table: LakeTable, schema: pa.Schema, filters: Filters) -> list[str] | None:
    columns = filters.get("columns")
    if isinstance(columns, str):
        columns = [columns]
    asked = [*(columns or ()), *(filters.get("where") or {})]
    missing = [c for c in asked if c not in schema.names]
    if missing:
        raise UnknownColumnError(table.qualified, missing, schema.names)
    return None if columns is None else list(columns)


def _filter(
    table: LakeTable, schema: pa.Schema, filters: Filters, cast_text: bool = False
) -> ds.Expression | None:
    parts: list[ds.Expression] = []
    asset = filters.get("asset")
    if asset is not None:
        if ASSET_COLUMN not in schema.names:
            raise UnsupportedFilterError(
                f"{table.qualified} has no {ASSET_COLUMN} column to filter on; "
                f"filter its columns with where=: {', '.join(schema.names)}"
            )
        parts.append(_equals(schema, ASSET_COLUMN, asset, cast_text))
    for column, value in (filters.get("where") or {}).items():
        parts.append(_equals(schema, column, value, cast_text))
    start, end = filters.get("start"), filters.get("end")
    if start is not None or end is not None:
        parts.extend(_window(table, schema, start, end))
    if not parts:
        return None
    expression = parts[0]
    for part in parts[1:]:
        expression = expression & part
    return expression


def _equals(schema: pa.Schema, column: str, value: Any, cast_text: bool) -> ds.Expression:
    values = _as_list(value)
    kind = schema.field(column).type
    field = ds.field(column)
    if cast_text and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        field = field.cast(kind)  # see Scan.to_arrow
    if len(values) == 1:
        equal: ds.Expression = field == pa.scalar(values[0], kind)
        return equal
    any_of: ds.Expression = field.isin(pa.array(values, kind))
    return any_of


def _window(
    table: LakeTable, schema: pa.Schema, start: TimeBound | None, end: TimeBound | None
) -> list[ds.Expression]:
    stamps = [f.name for f in schema if pa.types.is_timestamp(f.type)]
    column = time_column_of(table, schema.names, stamps)
    if column is None:
        raise UnsupportedFilterError(
            f"{table.qualified} has no time column for start/end; filter with where="
        )
    lo = None if start is None else _instant(start)
    hi = None if end is None else _instant(end)
    parts = _bounds(schema, column, lo, hi)
    if column != "date" and "date" in table.partition_by and "date" in schema.names:
        # The day partition as well: prunes folders even where file statistics are missing.
        first, last = _fetch_days(start, end)
        if first is not None:
            parts.append(ds.field("date") >= pa.scalar(first, pa.date32()))
        if last is not None:
            parts.append(ds.field("date") <= pa.scalar(last, pa.date32()))
    return parts


def _bounds(
    schema: pa.Schema, column: str, lo: dt.datetime | None, hi: dt.datetime | None
) -> list[ds.Expression]:
    kind = schema.field(column).type
    field = ds.field(column)
    parts = []
    if pa.types.is_timestamp(kind):
        zone = getattr(kind, "tz", None)
        if lo is not None:
            parts.append(field >= pa.scalar(lo if zone else lo.replace(tzinfo=None), kind))
        if hi is not None:
            parts.append(field < pa.scalar(hi if zone else hi.replace(tzinfo=None), kind))
        return parts
    # A day is in [lo, hi) when its midnight is: the first whole day from lo, days before hi.
    if lo is not None:
        first = lo.date() if lo.time() == dt.time() else lo.date() + dt.timedelta(days=1)
        parts.append(field >= pa.scalar(first, kind))
    if hi is not None:
        after = hi.date() if hi.time() == dt.time() else hi.date() + dt.timedelta(days=1)
        parts.append(field < pa.scalar(after, kind))
    return parts


def _fetch_days(
    start: TimeBound | None, end: TimeBound | None
) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day touched by ``[start, end)``."""
    first = None if start is None else _instant(start).date()
    last = None if end is None else (_instant(end) - dt.timedelta(microseconds=1)).date()
    return first, last


def _instant(value: TimeBound) -> dt.datetime:
    """``value`` as an aware UTC time (a date is its midnight; naive means UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as error:
            raise UnsupportedFilterError(f"not an ISO date or time: {value!r}") from error
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _version_at(delta: DeltaTable, instant: dt.datetime) -> int:
    """The version current at ``instant``: the last one committed at or before it, by the
    commit time stamps :meth:`Lake.history` shows. Resolved here rather than by delta-rs, which
    goes by the log files' modification times (whole seconds on S3: two commits within a
    second would be told apart on a local lake and not on S3), and which reads the first
    version for any instant before it, when the table did not exist yet."""
    commits = sorted((int(c["timestamp"]), int(c["version"])) for c in delta.history())
    before = [version for millis, version in commits if _from_millis(millis) <= instant]
    if not before:
        first = _from_millis(commits[0][0]).isoformat() if commits else "never"
        raise ValueError(f"the table's first commit is at {first}")
    return before[-1]


def _arrow_schema(delta: DeltaTable) -> pa.Schema:
    """The table's schema as pyarrow's (delta-rs hands an arro3 schema: converted through the
    Arrow C interface, which pyarrow's stubs do not declare)."""
    return pa.schema(cast(Any, delta.schema().to_arrow()))


def _from_millis(millis: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(millis) / 1000, tz=dt.UTC)
