"""The serving-store interface: what loaders write and what the API reads.

Two implementations keep one contract (``tests/pipelines/serving/test_store_contract.py``):
DuckDB, embedded, the default; TimescaleDB, the production store. Both implement it through
``pipelines.serving._sql_store.SqlStore``, which holds the logic they share. Loads are
idempotent upserts keyed by each table's natural key: loading the same rows twice leaves the
store as loading them once.

Every served table is described once here by a :class:`ServedTable`: its SQL name, the Arrow
schema its upsert accepts and its reads return, and its natural key. The column names follow
``docs/data-model.md`` except where a gold ``date`` becomes ``ts`` (midnight UTC of that day),
so that every time series in the store is queried by the same ``ts`` column.

A field's nullability in that schema is the one declaration of whether the column may be null
(as ``docs/data-model.md`` says): loads refuse nulls only where it is not nullable, the DDL of
both stores has ``NOT NULL`` exactly there, and the API's response models accept null exactly
there (tests compare all three). Numbers are always finite: loads refuse NaN and infinities.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pyarrow as pa

from pipelines.contracts.reference import Asset
from pipelines.core.resources import Closeable

#: Bar resolutions the API serves. 1m/5m/1h/1d are loaded from gold; 1w is derived in the
#: store from the 1d bars (continuous aggregate, materialized view or view).
Resolution = Literal["1m", "5m", "1h", "1d", "1w"]
RESOLUTIONS: tuple[Resolution, ...] = ("1m", "5m", "1h", "1d", "1w")
#: Resolutions :meth:`ServingStore.upsert_ohlcv` accepts.
LOADED_RESOLUTIONS: tuple[Resolution, ...] = ("1m", "5m", "1h", "1d")
#: Resolutions kept only for a retention period, in their own table (``ohlcv_intraday``).
INTRADAY_RESOLUTIONS: tuple[Resolution, ...] = ("1m", "5m")
#: Resolution aggregated in the store rather than loaded.
AGGREGATED_RESOLUTION: Resolution = "1w"

_UTC_TS = pa.timestamp("us", tz="UTC")
_FLOAT = pa.float64()


def _required(name: str, type_: pa.DataType) -> pa.Field[Any]:
    return pa.field(name, type_, nullable=False)


def _optional(*names: str, type_: pa.DataType = _FLOAT) -> list[pa.Field[Any]]:
    return [pa.field(name, type_) for name in names]


#: Arrow schema of the bars handed to :meth:`ServingStore.upsert_ohlcv`. ``volume`` is null
#: where the source publishes none (CoinGecko's OHLC endpoint; see docs/data-model.md).
OHLCV_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("resolution", pa.string()),
        _required("ts", _UTC_TS),
        *(_required(name, pa.float64()) for name in ("open", "high", "low", "close")),
        pa.field("volume", pa.float64()),
    ]
)

#: ``gold/onchain_daily``: on-chain metrics of one asset-day (every metric nullable).
ONCHAIN_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("ts", _UTC_TS),
        *_optional("holders", "transfer_count", type_=pa.int64()),
        *_optional(
            "transfer_volume_usd",
            "total_supply",
            "dex_liquidity_usd",
            "exchange_inflow_usd",
            "exchange_outflow_usd",
            "net_exchange_flow_usd",
            "nav_usd",
            "tvl_usd",
            "circulating_usd",
            "premium_to_nav",
        ),
    ]
)

#: The measures of ``gold/features_daily`` (docs/data-model.md), in table order; gold computes
#: them, the store serves them.
FEATURE_MEASURES = (
    "close",
    "return_1d",
    "log_return_1d",
    "realized_vol_7d",
    "realized_vol_30d",
    "drawdown",
    "max_drawdown_30d",
    "dollar_volume",
    "amihud_30d",
    "zero_volume_share",
    "hl_range",
)

#: ``gold/features_daily``: returns, volatility, drawdown and liquidity of one asset-day.
FEATURES_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("ts", _UTC_TS),
        *_optional(*FEATURE_MEASURES),
    ]
)

#: ``silver/economic``: one observation of a macro series; ``ts`` is the observation date.
ECONOMIC_SCHEMA = pa.schema(
    [
        _required("series_id", pa.string()),
        _required("region", pa.string()),
        _required("ts", _UTC_TS),
        pa.field("value", pa.float64()),  # null where the source publishes "no value"
        *_optional("frequency", "units", type_=pa.string()),
        pa.field("realtime_start", pa.date32()),
    ]
)

#: ``gold/sentiment_daily``: news sentiment of one asset-day; scores null until scored.
SENTIMENT_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("ts", _UTC_TS),
        _required("article_count", pa.int32()),
        *_optional("sentiment_score", "confidence", "positive_share", "negative_share"),
        pa.field("model_version", pa.string()),
    ]
)

#: One forecast point: the value predicted for ``target_date`` by the run of ``model_version``
#: at ``generated_at`` for a ``horizon_days`` horizon, with 80% and 95% interval bounds.
PREDICTIONS_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("horizon_days", pa.int32()),
        _required("generated_at", _UTC_TS),
        _required("model_version", pa.string()),
        _required("target_date", pa.date32()),
        _required("value", pa.float64()),
        *_optional("lower_80", "upper_80", "lower_95", "upper_95"),
    ]
)

#: The end point of an asset's newest forecast run, with the close it was made from.
FORECAST_SUMMARY_SCHEMA = pa.schema([*PREDICTIONS_SCHEMA, pa.field("last_close", pa.float64())])

#: One risk assessment: composite score 1-100 and sub-scores; ``factors`` is JSON text.
RISK_SCORES_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("calculated_at", _UTC_TS),
        _required("model_version", pa.string()),
        _required("composite_score", pa.int32()),
        *_optional(
            "market_risk", "credit_risk", "regulatory_risk", "technical_risk", type_=pa.int32()
        ),
        _required("factors", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class ServedTable:
    """A table of the store: ``name`` in SQL, ``label`` in messages, the Arrow ``schema`` its
    upsert takes and its reads return, and its natural ``key`` (the upsert's conflict target).
    ``json_columns`` are JSON text in Arrow and JSON/JSONB in SQL. ``references_assets``: its
    ``asset_id`` is a foreign key of ``assets``, so loads of unknown assets are refused."""

    name: str
    label: str
    schema: pa.Schema
    key: tuple[str, ...]
    json_columns: frozenset[str] = frozenset()
    references_assets: bool = False

    @property
    def values(self) -> tuple[str, ...]:
        """The columns an upsert may change: every column not in the key."""
        return tuple(name for name in self.schema.names if name not in self.key)


OHLCV = ServedTable("ohlcv", "OHLCV bars", OHLCV_SCHEMA, ("asset_id", "resolution", "ts"))
OHLCV_INTRADAY = ServedTable(
    "ohlcv_intraday", "OHLCV bars", OHLCV_SCHEMA, ("asset_id", "resolution", "ts")
)
ONCHAIN = ServedTable("onchain_metrics", "on-chain metrics", ONCHAIN_SCHEMA, ("asset_id", "ts"))
FEATURES = ServedTable("asset_features", "asset features", FEATURES_SCHEMA, ("asset_id", "ts"))
ECONOMIC = ServedTable(
    "economic_indicators", "economic indicators", ECONOMIC_SCHEMA, ("series_id", "region", "ts")
)
SENTIMENT = ServedTable(
    "sentiment_scores", "sentiment scores", SENTIMENT_SCHEMA, ("asset_id", "ts")
)
PREDICTIONS = ServedTable(
    "predictions",
    "predictions",
    PREDICTIONS_SCHEMA,
    ("asset_id", "horizon_days", "generated_at", "model_version", "target_date"),
    references_assets=True,
)
RISK_SCORES = ServedTable(
    "risk_scores",
    "risk scores",
    RISK_SCORES_SCHEMA,
    ("asset_id", "calculated_at", "model_version"),
    json_columns=frozenset({"factors"}),
    references_assets=True,
)

#: Every table loads write, each with its one declaration.
LOADED_TABLES: tuple[ServedTable, ...] = (
    OHLCV,
    OHLCV_INTRADAY,
    ONCHAIN,
    FEATURES,
    ECONOMIC,
    SENTIMENT,
    PREDICTIONS,
    RISK_SCORES,
)

#: Every table :meth:`ServingStore.table_counts` reports, besides the OHLCV resolutions.
COUNTED_TABLES: tuple[str, ...] = (
    "assets",
    ONCHAIN.name,
    FEATURES.name,
    ECONOMIC.name,
    SENTIMENT.name,
    PREDICTIONS.name,
    RISK_SCORES.name,
    "users",
    "portfolios",
    "alerts",
)


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


class ServingStore(Closeable):
    """Read/write access to the serving store. Use as a context manager or call close().

    Reads of time series take a half-open window ``start <= ts < end`` (either bound may be
    None; naive datetimes are UTC) and return rows in time order; with ``limit`` the newest
    ``limit`` rows of the window, still in time order. Series reads return Arrow tables of
    the table's declared schema.
    """

    backend: ClassVar[str]

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema; safe to call on every start."""

    # --- writes ------------------------------------------------------------------------------

    @abstractmethod
    def upsert_assets(self, assets: list[Asset]) -> int:
        """Insert or replace assets by ``asset_id``; returns rows written."""

    @abstractmethod
    def upsert_ohlcv(self, bars: pa.Table) -> int:
        """Insert or replace bars keyed by (asset_id, resolution, ts); ``bars`` has
        :data:`OHLCV_SCHEMA` and resolutions from :data:`LOADED_RESOLUTIONS`. Returns rows
        written."""

    @abstractmethod
    def upsert_onchain(self, rows: pa.Table) -> int:
        """Upsert :data:`ONCHAIN_SCHEMA` rows keyed by (asset_id, ts); returns rows written."""

    @abstractmethod
    def upsert_features(self, rows: pa.Table) -> int:
        """Upsert :data:`FEATURES_SCHEMA` rows keyed by (asset_id, ts)."""

    @abstractmethod
    def upsert_economic(self, rows: pa.Table) -> int:
        """Upsert :data:`ECONOMIC_SCHEMA` rows keyed by (series_id, region, ts)."""

    @abstractmethod
    def upsert_sentiment(self, rows: pa.Table) -> int:
        """Upsert :data:`SENTIMENT_SCHEMA` rows keyed by (asset_id, ts)."""

    @abstractmethod
    def upsert_predictions(self, rows: pa.Table) -> int:
        """Upsert :data:`PREDICTIONS_SCHEMA` rows; every ``asset_id`` must be a known asset."""

    @abstractmethod
    def upsert_risk_scores(self, rows: pa.Table) -> int:
        """Upsert :data:`RISK_SCORES_SCHEMA` rows; every ``asset_id`` must be a known asset."""

    # --- maintenance -------------------------------------------------------------------------

    @abstractmethod
    def refresh_aggregates(self) -> list[str]:
        """Bring derived relations (weekly bars) up to date with the loaded ones; returns the
        names of those it refreshed (none where they are computed on read)."""

    @abstractmethod
    def retention_cutoff(self, now: dt.datetime) -> dt.datetime:
        """The instant before which intraday bars are not kept, as of ``now``."""

    @abstractmethod
    def apply_retention(self, now: dt.datetime) -> RetentionResult:
        """Remove intraday (1m/5m) bars older than :meth:`retention_cutoff`."""

    # --- reads -------------------------------------------------------------------------------

    @abstractmethod
    def list_assets(self, asset_class: str | None = None) -> list[Asset]:
        """All assets ordered by ``asset_id``, optionally of one class."""

    @abstractmethod
    def get_asset(self, asset_id: str) -> Asset | None:
        """One asset, or None when unknown."""

    @abstractmethod
    def ohlcv(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[OhlcvBar]:
        """Bars with ``start <= ts < end`` in time order (the newest ``limit`` when set)."""

    @abstractmethod
    def onchain(
        self,
        asset_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """On-chain metrics of one asset (:data:`ONCHAIN_SCHEMA`)."""

    @abstractmethod
    def features(
        self,
        asset_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Daily features of one asset (:data:`FEATURES_SCHEMA`)."""

    @abstractmethod
    def sentiment(
        self,
        asset_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Daily news sentiment of one asset (:data:`SENTIMENT_SCHEMA`)."""

    @abstractmethod
    def economic(
        self,
        series_id: str,
        region: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Observations of one macro series in one region (:data:`ECONOMIC_SCHEMA`)."""

    @abstractmethod
    def latest_predictions(self, asset_id: str, horizon_days: int) -> pa.Table:
        """The newest forecast run of one asset at one horizon (latest ``generated_at``, then
        greatest model version): :data:`PREDICTIONS_SCHEMA` rows by ``target_date``."""

    @abstractmethod
    def forecast_summaries(self, horizon_days: int, asset_class: str | None = None) -> pa.Table:
        """Per asset, the last point of its newest forecast run at ``horizon_days`` with the
        last daily close the model saw (:data:`FORECAST_SUMMARY_SCHEMA`), by ``asset_id``."""

    @abstractmethod
    def latest_risk_scores(self, asset_class: str | None = None) -> pa.Table:
        """The newest risk score of every asset (of ``asset_class`` only, when given), in
        :data:`RISK_SCORES_SCHEMA` ordered by ``asset_id``; ``factors`` as JSON text."""

    @abstractmethod
    def economic_regions(self, series_id: str) -> list[str]:
        """Regions that have observations of ``series_id``, sorted; empty when unknown."""

    @abstractmethod
    def table_counts(self) -> dict[str, int]:
        """Row count per served table: ``ohlcv_<resolution>`` for every resolution, then
        every table of :data:`COUNTED_TABLES`."""

    @abstractmethod
    def health(self) -> StoreHealth:
        """Whether the store answers a trivial query; never raises."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
