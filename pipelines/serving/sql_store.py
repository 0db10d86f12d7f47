"""The serving store implemented once for SQL engines reached through a DB-API cursor.

:class:`SqlStore` is the one implementation of :class:`~pipelines.serving.store.ServingStore`:
every method, with the logic both engines share (the reads, the upserts, the migration flow,
retention bookkeeping, the read-only guard and health reporting). It builds them on two small
primitives a concrete store provides, :meth:`SqlStore._cursor` (for reads)
and :meth:`SqlStore._transaction` (for writes), plus a few hooks. A concrete store keeps only
what is its own: connection handling, staging a bulk load, locking migrations, dropping old
intraday bars, refreshing aggregates, describing itself.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts.reference import Asset
from pipelines.contracts.served import (
    ASSETS,
    COUNTED_TABLES,
    ECONOMIC,
    FEATURES,
    FORECAST_SUMMARY_SCHEMA,
    INTRADAY_RESOLUTIONS,
    MARKET,
    MARKET_AGGREGATE_SCHEMA,
    MARKET_GROUPS,
    MARKET_INTERVALS,
    NEWS,
    OHLCV,
    OHLCV_INTRADAY,
    ONCHAIN,
    PREDICTIONS,
    RISK_SCORES,
    SENTIMENT,
    SENTIMENT_MEAN_SCHEMA,
    SIGNALS,
    MarketGroup,
    MarketInterval,
    Resolution,
    ServedTable,
)
from pipelines.core.errors import DataContractError, StoreUnavailableError
from pipelines.core.resources import Closeable
from pipelines.core.settings import ServingSettings
from pipelines.serving import fresh_rows, queries, schema
from pipelines.serving.rows import (
    as_utc,
    asset_from_doc,
    asset_row,
    bars_from_rows,
    counts,
    one_line,
    prepare_rows,
    table_from_rows,
)
from pipelines.serving.schema import Migration
from pipelines.serving.store import OhlcvBar, RetentionResult, StoreHealth

#: Days of 1m/5m bars a store keeps unless told otherwise: the setting's own default.
DEFAULT_INTRADAY_RETENTION_DAYS: int = ServingSettings.model_fields[
    "intraday_retention_days"
].default


class Rows(Protocol):
    """The result of a statement, as both drivers' cursors return it."""

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...


class Cursor(Protocol):
    """What :class:`SqlStore` needs of a cursor: DuckDB's connection and psycopg's cursor both
    qualify. Positional-only, since the drivers name the parameters differently."""

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Rows: ...

    def executemany(self, query: str, params_seq: Iterable[Sequence[Any]], /) -> object: ...


CursorT = TypeVar("CursorT", bound=Cursor)
T = TypeVar("T")


class SqlStore(Closeable, Generic[CursorT]):
    """The :class:`~pipelines.serving.store.ServingStore` over an SQL engine; ``CursorT`` is its
    driver's cursor type. A concrete store provides the primitives below."""

    #: 'duckdb' or 'timescaledb'.
    backend: ClassVar[str]
    #: Parameter marker of the driver: ``?`` (DuckDB) or ``%s`` (psycopg).
    _marker: ClassVar[str]
    #: Marker of the ``doc`` value in the asset upsert, for a dialect that must cast it.
    _doc_marker: ClassVar[str | None] = None
    #: The dialect's schema steps (``DUCKDB_MIGRATIONS`` or ``TIMESCALE_MIGRATIONS``).
    _migrations: ClassVar[tuple[Migration, ...]]
    #: A query whose one value says whether ``schema_migrations`` exists (catalogs differ).
    _migrations_table_exists_sql: ClassVar[str]
    #: What a read-only store that lacks schema versions tells its user to do.
    _migrate_hint: ClassVar[str]
    #: The kind of store in messages, followed by its location: e.g. "DuckDB store".
    _kind: ClassVar[str]
    #: Whether the store appends rows of new time ranges without the upsert (it then
    #: implements :meth:`_stored_ranges` and :meth:`_append`); otherwise every row is upserted.
    _appends: ClassVar[bool] = False

    def __init__(self, location: str, *, read_only: bool, intraday_retention_days: int) -> None:
        """``location`` names the store in messages: a file, or a DSN without password.
        ``intraday_retention_days``: how long 1m/5m bars are kept (see apply_retention)."""
        if intraday_retention_days < 1:
            raise ValueError(f"intraday_retention_days must be >= 1, got {intraday_retention_days}")
        self._location = location
        self.read_only = read_only
        self.intraday_retention = dt.timedelta(days=intraday_retention_days)

    # --- primitives of a concrete store ----------------------------------------------------------

    @abstractmethod
    def _cursor(self) -> AbstractContextManager[CursorT]:
        """A cursor for reads; failures to reach the store raise StoreUnavailableError."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[CursorT]:
        """A cursor in one write transaction: committed when the block ends, rolled back when
        it raises."""

    @abstractmethod
    def _staged(
        self, cur: CursorT, table: ServedTable, rows: pa.Table
    ) -> AbstractContextManager[str]:
        """``rows`` (of ``table.schema``) made visible to ``cur`` as a relation, whose name it
        yields, for the duration of the block."""

    @abstractmethod
    def _drop_intraday_before(self, cur: CursorT, cutoff: dt.datetime) -> tuple[int, int]:
        """Remove intraday bars older than ``cutoff``; returns (rows, chunks) dropped."""

    @abstractmethod
    def _refresh_aggregates(self) -> list[str]:
        """Refresh what needs refreshing after a load; the names refreshed."""

    @abstractmethod
    def _health_detail(self) -> str:
        """What a healthy store reports about itself; raises when the store does not answer."""

    def _fetch_table(
        self, cur: CursorT, sql: str, params: Sequence[object], schema: pa.Schema
    ) -> pa.Table:
        """The rows of ``sql``, whose columns are those of ``schema`` in order, as an Arrow
        table of ``schema``; through Python tuples by default, a driver that speaks Arrow
        overrides it (the API's reads of thousands of rows then stay in columns)."""
        return table_from_rows(cur.execute(sql, params).fetchall(), schema)

    def _stored_ranges(self, cur: CursorT, table: ServedTable, series: pa.Table) -> pa.Table:
        """The earliest and latest stored time of each series of ``series`` (the table's
        :func:`~pipelines.serving.fresh_rows.series_columns`), as
        :func:`~pipelines.serving.fresh_rows.fresh_mask` takes them. Only where
        :attr:`_appends`."""
        raise NotImplementedError(f"{type(self).__name__} has no append path")

    def _append(self, cur: CursorT, table: ServedTable, rows: pa.Table) -> bool:
        """Insert ``rows``, which no stored row conflicted with when looked up, without
        conflict handling; False (nothing written, the transaction still usable) if one did
        all the same (a concurrent writer), for the caller to upsert them instead. Only where
        :attr:`_appends`."""
        raise NotImplementedError(f"{type(self).__name__} has no append path")

    def _lock_migrations(self, cur: CursorT) -> None:
        """Serialise concurrent :meth:`migrate` calls within the transaction of ``cur``; by
        default nothing, for an engine where one writer excludes the others anyway."""

    def _licensed(self, cur: CursorT) -> bool:
        """Whether migrations take their ``licensed`` statements (TimescaleDB's Timescale
        License build); by default no."""
        return False

    def _after_migrations(self, cur: CursorT) -> None:
        """Settings-driven schema state to reconcile on every migrate (policies); by default
        nothing."""

    # --- shared --------------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        """The store as named in messages, e.g. "TimescaleDB at postgresql://u@host:5432/db"."""
        return f"{self._kind} {self._location}"

    def _check_writable(self, operation: str) -> None:
        if self.read_only:
            raise StoreUnavailableError(
                f"{self._label} is open read-only: {operation} needs a store opened with "
                "read_only=False"
            )

    # --- schema --------------------------------------------------------------------------------

    def migrate(self) -> None:
        if self.read_only:
            self._check_migrated()
            return
        with self._transaction() as cur:
            self._lock_migrations(cur)
            cur.execute(schema.CREATE_MIGRATIONS_TABLE_SQL)
            for migration in schema.pending_migrations(self._migrations, _applied(cur)):
                # Asked only where it matters: the edition is known once the extension exists.
                licensed = migration.licensed is not None and self._licensed(cur)
                for statement in migration.statements_for(licensed=licensed):
                    cur.execute(statement)
                cur.execute(
                    schema.record_migration_sql(self._marker), [migration.version, migration.name]
                )
            self._after_migrations(cur)

    def _check_migrated(self) -> None:
        """A read-only store cannot migrate; say so clearly if the schema is behind."""
        with self._cursor() as cur:
            exists = cur.execute(self._migrations_table_exists_sql).fetchone()
            applied = _applied(cur) if exists and exists[0] else []
        missing = [m.version for m in schema.pending_migrations(self._migrations, applied)]
        if missing:
            raise StoreUnavailableError(
                f"{self._label} lacks schema version(s) {missing}; {self._migrate_hint}"
            )

    # --- writes --------------------------------------------------------------------------------

    def upsert_assets(self, assets: list[Asset]) -> int:
        self._check_writable("upsert_assets")
        if not assets:
            return 0
        sql = queries.upsert_assets_sql(self._marker, doc_marker=self._doc_marker)
        with self._transaction() as cur:
            cur.executemany(sql, [asset_row(asset) for asset in assets])
        return len(assets)

    def upsert_ohlcv(self, bars: pa.Table) -> int:
        """1m/5m bars go to ``ohlcv_intraday`` (so retention can drop its chunks), the others
        to ``ohlcv``; both in one transaction."""
        self._check_writable("upsert_ohlcv")
        prepared = prepare_rows(bars, OHLCV)
        intraday = pc.is_in(prepared.column("resolution"), pa.array(INTRADAY_RESOLUTIONS))
        parts = [
            (OHLCV_INTRADAY, prepared.filter(intraday)),
            (OHLCV, prepared.filter(pc.invert(intraday))),
        ]
        with self._transaction() as cur:
            for table, part in parts:
                if part.num_rows:
                    self._upsert_prepared(cur, table, part)
        return prepared.num_rows

    def upsert_onchain(self, rows: pa.Table) -> int:
        return self._upsert("upsert_onchain", ONCHAIN, rows)

    def upsert_features(self, rows: pa.Table) -> int:
        return self._upsert("upsert_features", FEATURES, rows)

    def upsert_economic(self, rows: pa.Table) -> int:
        return self._upsert("upsert_economic", ECONOMIC, rows)

    def upsert_sentiment(self, rows: pa.Table) -> int:
        return self._upsert("upsert_sentiment", SENTIMENT, rows)

    def upsert_predictions(self, rows: pa.Table) -> int:
        return self._upsert("upsert_predictions", PREDICTIONS, rows)

    def upsert_risk_scores(self, rows: pa.Table) -> int:
        return self._upsert("upsert_risk_scores", RISK_SCORES, rows)

    def upsert_market(self, rows: pa.Table) -> int:
        return self._upsert("upsert_market", MARKET, rows)

    def upsert_news(self, rows: pa.Table) -> int:
        return self._upsert("upsert_news", NEWS, rows)

    def upsert_signals(self, rows: pa.Table) -> int:
        return self._upsert("upsert_signals", SIGNALS, rows)

    def _upsert(self, operation: str, table: ServedTable, rows: pa.Table) -> int:
        self._check_writable(operation)
        prepared = prepare_rows(rows, table)
        if prepared.num_rows == 0:
            return 0
        with self._transaction() as cur:
            if table.references_assets:
                self._check_known_assets(cur, table, prepared)
            self._upsert_prepared(cur, table, prepared)
        return prepared.num_rows

    def _upsert_prepared(self, cur: CursorT, table: ServedTable, rows: pa.Table) -> None:
        """Rows outside the stored range of their series (see :mod:`fresh_rows`) are appended
        as they are, where the store can; the others are upserted from a staged copy. Both
        within the caller's transaction, so a reader sees the whole batch or none of it."""
        rest = rows
        fresh = self._fresh_mask(cur, table, rows)
        if fresh is not None and fresh.any():
            appended = rows if fresh.all() else rows.filter(pa.array(fresh))
            if self._append(cur, table, appended):
                rest = rows.filter(pa.array(~fresh))
        if rest.num_rows:
            with self._staged(cur, table, rest) as source:
                cur.execute(queries.upsert_sql(table, source))

    def _fresh_mask(
        self, cur: CursorT, table: ServedTable, rows: pa.Table
    ) -> fresh_rows.BoolArray | None:
        """Which ``rows`` no stored row can conflict with; None where the store cannot tell."""
        if not self._appends or not fresh_rows.series_columns(table):
            return None
        stored = self._stored_ranges(cur, table, fresh_rows.series_of(rows, table))
        return fresh_rows.fresh_mask(rows, table, stored)

    def _check_known_assets(self, cur: CursorT, table: ServedTable, rows: pa.Table) -> None:
        """Refuse rows of assets the store does not know, naming them (the foreign key would
        refuse them too, but with an engine-specific message)."""
        known = {
            asset_id for (asset_id,) in cur.execute(f"SELECT asset_id FROM {ASSETS}").fetchall()
        }
        named = {str(value) for value in pc.unique(rows.column("asset_id")).to_pylist()}
        unknown = sorted(named - known)
        if unknown:
            raise DataContractError(
                f"{table.label} name unknown asset(s) {unknown} in 'asset_id'; "
                "load the reference assets first"
            )

    # --- maintenance ---------------------------------------------------------------------------

    def refresh_aggregates(self) -> list[str]:
        self._check_writable("refresh_aggregates")
        return self._refresh_aggregates()

    def retention_cutoff(self, now: dt.datetime) -> dt.datetime:
        instant = as_utc(now)
        assert instant is not None  # now is not optional
        return instant - self.intraday_retention

    def apply_retention(self, now: dt.datetime) -> RetentionResult:
        self._check_writable("apply_retention")
        cutoff = self.retention_cutoff(now)
        with self._transaction() as cur:
            rows, chunks = self._drop_intraday_before(cur, cutoff)
        return RetentionResult(OHLCV_INTRADAY.name, cutoff, rows, chunks)

    # --- reads ---------------------------------------------------------------------------------

    def list_assets(self, asset_class: str | None = None) -> list[Asset]:
        # Every asset route looks its asset up first: small reads, kept per snapshot where
        # the data is published whole (see memoised); a copy, so no caller changes the memo.
        return list(self.memoised(("list_assets", asset_class), lambda: self._assets(asset_class)))

    def _assets(self, asset_class: str | None) -> tuple[Asset, ...]:
        sql = queries.select_assets_sql(self._marker, by_class=asset_class is not None)
        params = [] if asset_class is None else [asset_class]
        with self._cursor() as cur:
            rows = cur.execute(sql, params).fetchall()
        return tuple(asset_from_doc(doc) for (doc,) in rows)

    def get_asset(self, asset_id: str) -> Asset | None:
        return self.memoised(("get_asset", asset_id), lambda: self._asset(asset_id))

    def _asset(self, asset_id: str) -> Asset | None:
        sql = queries.select_assets_sql(self._marker, by_id=True)
        with self._cursor() as cur:
            row = cur.execute(sql, [asset_id]).fetchone()
        return None if row is None else asset_from_doc(row[0])

    def ohlcv(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[OhlcvBar]:
        query = queries.ohlcv_query(asset_id, resolution).within(start, end, limit)
        sql, params = query.sql(self._marker)
        with self._cursor() as cur:
            return bars_from_rows(cur.execute(sql, params).fetchall())

    def ohlcv_table(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        query = queries.ohlcv_query(asset_id, resolution).within(start, end, limit)
        sql, params = query.sql(self._marker)
        with self._cursor() as cur:
            return self._fetch_table(cur, sql, params, queries.OHLCV_READ_SCHEMA)

    def series(
        self,
        table: ServedTable,
        key: Mapping[str, object],
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        query = queries.series_query(table, key).within(start, end, limit)
        sql, params = query.sql(self._marker)
        with self._cursor() as cur:
            return self._fetch_table(cur, sql, params, table.schema)

    def panel(
        self,
        table: ServedTable,
        asset_ids: Sequence[str],
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        where: Mapping[str, object] | None = None,
    ) -> pa.Table:
        sql, params = queries.panel_query(table, asset_ids, where or {}, start, end, self._marker)
        if not asset_ids:
            return table.schema.empty_table()
        with self._cursor() as cur:
            return self._fetch_table(cur, sql, params, table.schema)

    def newest_rows(self, table: ServedTable, within: dt.timedelta = dt.timedelta(0)) -> pa.Table:
        if within < dt.timedelta(0):
            raise ValueError(f"within must not be negative, got {within}")
        sql = queries.newest_rows_sql(table, self._marker)
        with self._cursor() as cur:
            return self._fetch_table(cur, sql, [within], table.schema)

    def economic_regions(self, series_id: str) -> list[str]:
        with self._cursor() as cur:
            rows = cur.execute(queries.economic_regions_sql(self._marker), [series_id]).fetchall()
        return [region for (region,) in rows]

    def latest_predictions(self, asset_id: str, horizon_days: int) -> pa.Table:
        sql = queries.latest_predictions_sql(self._marker)
        params = [asset_id, horizon_days]
        return self._read_small(("latest_predictions", *params), sql, params, PREDICTIONS.schema)

    def forecast_summaries(self, horizon_days: int, asset_class: str | None = None) -> pa.Table:
        sql = queries.forecast_summaries_sql(self._marker, by_class=asset_class is not None)
        params: list[object] = [horizon_days] + ([] if asset_class is None else [asset_class])
        key = ("forecast_summaries", horizon_days, asset_class)
        return self._read_small(key, sql, params, FORECAST_SUMMARY_SCHEMA)

    def latest_risk_scores(self, asset_class: str | None = None) -> pa.Table:
        sql = queries.latest_risk_scores_sql(self._marker, by_class=asset_class is not None)
        params = [] if asset_class is None else [asset_class]
        key = ("latest_risk_scores", asset_class)
        return self._read_small(key, sql, params, RISK_SCORES.schema)

    # --- market analytics ----------------------------------------------------------------------

    def market_latest_day(self) -> dt.date | None:
        def read() -> dt.date | None:
            with self._cursor() as cur:
                row = cur.execute(queries.market_latest_day_sql()).fetchone()
            return None if row is None else row[0]

        return self.memoised(("market_latest_day",), read)

    def market_day(self, day: dt.date) -> pa.Table:
        midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
        sql = queries.market_day_sql(self._marker)
        return self._read_small(("market_day", day), sql, [midnight], MARKET.schema)

    def market_aggregates(
        self,
        by: MarketGroup,
        interval: MarketInterval,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> pa.Table:
        if by not in MARKET_GROUPS or interval not in MARKET_INTERVALS:
            raise ValueError(f"unknown market group {by!r} or interval {interval!r}")
        bounds = [bound for bound in (as_utc(start), as_utc(end)) if bound is not None]
        sql = queries.market_aggregates_sql(
            self._marker, by, interval, start=start is not None, end=end is not None
        )
        key = ("market_aggregates", by, interval, start, end)
        return self._read_small(key, sql, bounds, MARKET_AGGREGATE_SCHEMA)

    def sentiment_means(self, start: dt.datetime, end: dt.datetime) -> pa.Table:
        sql = queries.sentiment_means_sql(self._marker)
        params = [as_utc(start), as_utc(end)]
        return self._read_small(("sentiment_means", start, end), sql, params, SENTIMENT_MEAN_SCHEMA)

    def latest_news(self, limit: int) -> pa.Table:
        sql = queries.latest_news_sql(self._marker)
        return self._read_small(("latest_news", limit), sql, [limit], NEWS.schema)

    def _read_small(
        self, key: Hashable, sql: str, params: Sequence[object], schema: pa.Schema
    ) -> pa.Table:
        """A read whose answer is small but costly to compute (window functions over every
        asset's history), memoised where the store allows (an Arrow table never changes)."""

        def read() -> pa.Table:
            with self._cursor() as cur:
                return self._fetch_table(cur, sql, params, schema)

        return self.memoised(key, read)

    def table_counts(self) -> dict[str, int]:
        with self._cursor() as cur:
            per_resolution = [
                *cur.execute(queries.count_by_resolution_sql(OHLCV.name)).fetchall(),
                *cur.execute(queries.count_by_resolution_sql(OHLCV_INTRADAY.name)).fetchall(),
                ("1w", _count(cur, schema.WEEKLY_RELATION)),
            ]
            per_table = [(name, _count(cur, name)) for name in COUNTED_TABLES]
        return counts(per_resolution, per_table)

    def memoised(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Runs ``compute`` every time: data may change under any read (see the Protocol);
        a store that knows when its data changes overrides this."""
        return compute()

    def recall(self, key: Hashable) -> object | None:
        return None  # nothing is kept (see memoised)

    def health(self) -> StoreHealth:
        try:
            detail = self._health_detail()
        except Exception as exc:  # health reports failures, it never raises them
            return StoreHealth(self.backend, False, f"{self._location}: {one_line(exc)}")
        return StoreHealth(self.backend, True, detail)


def _count(cur: Cursor, relation: str) -> int:
    row = cur.execute(queries.count_sql(relation)).fetchone()
    return int(row[0]) if row else 0


def _applied(cur: Cursor) -> list[int]:
    """Versions recorded in ``schema_migrations``."""
    return [version for (version,) in cur.execute(schema.APPLIED_MIGRATIONS_SQL).fetchall()]
