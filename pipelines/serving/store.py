"""What the serving store offers: the interface loaders write through and the API reads, and the
values its reads return.

:class:`ServingStore` is a Protocol: the one implementation is
:class:`~pipelines.serving.sql_store.SqlStore`, over DuckDB (embedded, the default) or
TimescaleDB (production), and one contract suite (``tests/pipelines/serving/``) runs against
both; tests that need a double (a store whose health check fails) mock this Protocol. The tables
the methods take and return are declared in :mod:`pipelines.contracts.served`.

Loads are idempotent upserts keyed by each table's natural key: loading the same rows twice
leaves the store as loading them once. Reads of time series take a half-open window
``start <= ts < end`` (either bound may be None; naive datetimes are UTC) and return rows in
time order; with ``limit`` the newest ``limit`` rows of the window, still in time order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, TypeVar

import pyarrow as pa

from pipelines.contracts.reference import Asset
from pipelines.contracts.served import MarketGroup, MarketInterval, Resolution, ServedTable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OhlcvBar:
    """One bar as read back from the store; ``ts`` is the UTC start of the bucket."""

    ts: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float | None  # None where the source publishes no volume


@dataclass(frozen=True, slots=True)
class StoreHealth:
    backend: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """What :meth:`ServingStore.apply_retention` removed from ``table``: bars older than
    ``cutoff``. TimescaleDB drops whole chunks (``chunks_dropped``; a chunk straddling the
    cutoff is kept until it lies wholly before it), DuckDB deletes rows (no chunks)."""

    table: str
    cutoff: dt.datetime
    rows_dropped: int
    chunks_dropped: int


class ServingStore(Protocol):
    """Read/write access to the serving store. Use as a context manager or call close()."""

    @property
    def backend(self) -> str:
        """'duckdb' or 'timescaledb'."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def migrate(self) -> None:
        """Create or upgrade the schema; safe to call on every start. A read-only store only
        checks that the schema is current."""

    # --- writes ------------------------------------------------------------------------------

    def upsert_assets(self, assets: list[Asset]) -> int:
        """Insert or replace assets by ``asset_id``; returns rows written."""

    def upsert_ohlcv(self, bars: pa.Table) -> int:
        """Upsert bars of ``OHLCV_SCHEMA`` keyed by (asset_id, resolution, ts), resolutions
        from ``LOADED_RESOLUTIONS``; returns rows written."""

    def upsert_onchain(self, rows: pa.Table) -> int:
        """Upsert ``ONCHAIN`` rows keyed by (asset_id, ts); returns rows written."""

    def upsert_features(self, rows: pa.Table) -> int:
        """Upsert ``FEATURES`` rows keyed by (asset_id, ts)."""

    def upsert_economic(self, rows: pa.Table) -> int:
        """Upsert ``ECONOMIC`` rows keyed by (series_id, region, ts)."""

    def upsert_sentiment(self, rows: pa.Table) -> int:
        """Upsert ``SENTIMENT`` rows keyed by (asset_id, ts)."""

    def upsert_predictions(self, rows: pa.Table) -> int:
        """Upsert ``PREDICTIONS`` rows; every ``asset_id`` must be a known asset."""

    def upsert_risk_scores(self, rows: pa.Table) -> int:
        """Upsert ``RISK_SCORES`` rows; every ``asset_id`` must be a known asset."""

    def upsert_market(self, rows: pa.Table) -> int:
        """Upsert ``MARKET`` rows (gold/market_daily) keyed by (asset_id, ts)."""

    def upsert_news(self, rows: pa.Table) -> int:
        """Upsert ``NEWS`` rows (gold/news_articles) keyed by (asset_id, ts, article_id)."""

    def upsert_signals(self, rows: pa.Table) -> int:
        """Upsert ``SIGNALS`` rows (gold/signals); every ``asset_id`` must be a known asset."""

    # --- maintenance -------------------------------------------------------------------------

    def refresh_aggregates(self) -> list[str]:
        """Bring derived relations (weekly bars) up to date with the loaded ones; returns the
        names of those it refreshed (none where they are computed on read)."""

    def retention_cutoff(self, now: dt.datetime) -> dt.datetime:
        """The instant before which intraday bars are not kept, as of ``now``."""

    def apply_retention(self, now: dt.datetime) -> RetentionResult:
        """Remove intraday (1m/5m) bars older than :meth:`retention_cutoff`."""

    # --- reads -------------------------------------------------------------------------------

    def list_assets(self, asset_class: str | None = None) -> list[Asset]:
        """All assets ordered by ``asset_id``, optionally of one class."""

    def get_asset(self, asset_id: str) -> Asset | None:
        """One asset, or None when unknown."""

    def ohlcv(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[OhlcvBar]:
        """Bars with ``start <= ts < end`` in time order (the newest ``limit`` when set)."""

    def ohlcv_table(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """The bars :meth:`ohlcv` reads, as Arrow columns (``ts`` and ``OHLCV.values``):
        for readers of many bars, which need no Python object per bar."""

    def series(
        self,
        table: ServedTable,
        key: Mapping[str, object],
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """One series of ``table`` (``table.schema``, in time order): ``key`` gives a value to
        each column of ``table.series_key``, e.g. ``store.series(ONCHAIN, {"asset_id": "ousg"})``
        or ``store.series(ECONOMIC, {"series_id": "CPI", "region": "USA"})``."""

    def panel(
        self,
        table: ServedTable,
        asset_ids: Sequence[str],
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        where: Mapping[str, object] | None = None,
    ) -> pa.Table:
        """The series of several assets of ``table`` in one read (``table.schema``, by
        ``asset_id`` then time): ``where`` gives a value to each other column of
        ``table.series_key``, e.g. ``store.panel(OHLCV, ["ousg", "btc"], where={"resolution":
        "1d"})``; no assets, no rows. For readers of a portfolio's assets together."""

    def newest_rows(self, table: ServedTable, within: dt.timedelta = dt.timedelta(0)) -> pa.Table:
        """The newest rows of every series of ``table`` (``table.schema``, by series then
        time): those whose time column is at most ``within`` before the newest of their
        series; by default only the newest row. One read for every asset at once, e.g. each
        asset's last sentiment day, or its last day of bars per resolution
        (``newest_rows(OHLCV, dt.timedelta(days=1))``)."""

    def latest_predictions(self, asset_id: str, horizon_days: int) -> pa.Table:
        """The newest forecast run of one asset at one horizon (latest ``generated_at``, then
        greatest model version): ``PREDICTIONS`` rows by ``target_date``."""

    def forecast_summaries(self, horizon_days: int, asset_class: str | None = None) -> pa.Table:
        """Per asset, the last point of its newest forecast run at ``horizon_days`` with the
        last daily close the model saw (``FORECAST_SUMMARY_SCHEMA``), by ``asset_id``."""

    def latest_risk_scores(self, asset_class: str | None = None) -> pa.Table:
        """The newest risk score of every asset (of ``asset_class`` only, when given), in
        ``RISK_SCORES`` rows ordered by ``asset_id``; ``factors`` as JSON text."""

    def market_latest_day(self) -> dt.date | None:
        """The last day of ``market_daily``; None when it is empty."""

    def market_day(self, day: dt.date) -> pa.Table:
        """Every asset's ``MARKET`` row of ``day``, by ``asset_id`` (no rows: none that day)."""

    def market_aggregates(
        self,
        by: MarketGroup,
        interval: MarketInterval,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> pa.Table:
        """``MARKET_AGGREGATE_SCHEMA`` rows over ``start <= ts < end``, one per bucket of
        ``interval`` (UTC day, ISO week, month) and group of assets ``by`` a reference column,
        by bucket then group. Stocks: per asset its last row in the bucket, summed over the
        group's current rows and, apart, its stale ones. Flows: summed over every row."""

    def sentiment_means(self, start: dt.datetime, end: dt.datetime) -> pa.Table:
        """Per asset with news in ``start <= ts < end``: the mean daily sentiment score (of the
        scored days) and the articles (``SENTIMENT_MEAN_SCHEMA``), by ``asset_id``."""

    def latest_news(self, limit: int) -> pa.Table:
        """The ``NEWS`` rows of the newest ``limit`` articles (every asset each names), newest
        first, then by ``article_id`` and ``asset_id``."""

    def economic_regions(self, series_id: str) -> list[str]:
        """Regions that have observations of ``series_id``, sorted; empty when unknown."""

    def table_counts(self) -> dict[str, int]:
        """Row count per served table: ``ohlcv_<resolution>`` for every resolution, then
        every table of ``COUNTED_TABLES``."""

    def health(self) -> StoreHealth:
        """Whether the store answers a trivial query; never raises."""

    def memoised(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, or what it returned for an equal ``key`` on the same data. Where the
        data changes only by being published whole (a read-only DuckDB store, which follows
        immutable snapshots) results are kept until the next snapshot is published; elsewhere
        (TimescaleDB, a writable store) ``compute`` runs every time. ``compute`` must read
        this store only and return something no caller changes."""

    def recall(self, key: Hashable) -> object | None:
        """What :meth:`memoised` holds for ``key`` on the current data, without computing it:
        None when nothing is held (always, where nothing is kept). Lets an async caller answer
        from memory on the event loop and leave only real reads to a thread."""

    def close(self) -> None:
        """Release connections; safe to call more than once."""
