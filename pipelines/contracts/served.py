"""The tables of the serving store, each declared once: what loads write and the API reads.

Every served table is a :class:`ServedTable`: its SQL name, the Arrow schema its upsert accepts
and its reads return, its natural key and its time column. The column names follow
``docs/data-model.md`` except where a gold ``date`` becomes ``ts`` (midnight UTC of that day),
so that every time series in the store is queried by the same ``ts`` column.

A field's nullability is the one declaration of whether the column may be null: loads refuse
nulls only where it is not nullable, the DDL of both stores has ``NOT NULL`` exactly there,
and the API's response schemas accept null exactly there. Numbers are always finite: loads
refuse NaN and infinities. Tests hold both stores' live schema and the API's response schemas
to these declarations (``tests/pipelines/serving/test_schema.py``, ``tests/api/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from pipelines.contracts.measures import (
    COUNT_METRICS,
    DERIVED_ONCHAIN_METRICS,
    FEATURE_MEASURES,
    FLOW_METRICS,
    MARKET_AS_OF_COLUMNS,
    MARKET_COUNT_MEASURES,
    MARKET_FLOW_MEASURES,
    MARKET_STOCK_MEASURES,
    USD_METRICS,
)

#: Bar resolutions the API serves. 1m/5m/1h/1d are loaded from gold; 1w is derived in the
#: store from the 1d bars (continuous aggregate, materialized view or view).
Resolution = Literal["1m", "5m", "1h", "1d", "1w"]
RESOLUTIONS: tuple[Resolution, ...] = ("1m", "5m", "1h", "1d", "1w")
#: Resolutions the OHLCV upsert accepts.
LOADED_RESOLUTIONS: tuple[Resolution, ...] = ("1m", "5m", "1h", "1d")
#: Resolutions kept only for a retention period, in their own table (``ohlcv_intraday``).
INTRADAY_RESOLUTIONS: tuple[Resolution, ...] = ("1m", "5m")
#: Resolution aggregated in the store rather than loaded.
AGGREGATED_RESOLUTION: Resolution = "1w"

UTC_TS = pa.timestamp("us", tz="UTC")
_FLOAT = pa.float64()


def _required(name: str, type_: pa.DataType) -> pa.Field[Any]:
    return pa.field(name, type_, nullable=False)


def _optional(*names: str, type_: pa.DataType = _FLOAT) -> list[pa.Field[Any]]:
    return [pa.field(name, type_) for name in names]


#: Bars of one resolution. ``volume`` is null where the source publishes none (CoinGecko's
#: OHLC endpoint; see docs/data-model.md).
OHLCV_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("resolution", pa.string()),
        _required("ts", UTC_TS),
        *(_required(name, pa.float64()) for name in ("open", "high", "low", "close")),
        pa.field("volume", pa.float64()),
    ]
)

#: ``gold/onchain_daily``: on-chain metrics of one asset-day (every metric nullable), with the
#: token flows of its Transfer logs (migration 8).
ONCHAIN_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("ts", UTC_TS),
        *_optional(*COUNT_METRICS, type_=pa.int64()),
        *_optional(*USD_METRICS, *DERIVED_ONCHAIN_METRICS),
        *_optional(*FLOW_METRICS),
    ]
)

#: ``gold/features_daily``: returns, volatility, drawdown and liquidity of one asset-day.
FEATURES_SCHEMA = pa.schema(
    [_required("asset_id", pa.string()), _required("ts", UTC_TS), *_optional(*FEATURE_MEASURES)]
)

#: ``silver/economic``: one observation of a macro series; ``ts`` is the observation date.
ECONOMIC_SCHEMA = pa.schema(
    [
        _required("series_id", pa.string()),
        _required("region", pa.string()),
        _required("ts", UTC_TS),
        pa.field("value", pa.float64()),  # null where the source publishes "no value"
        *_optional("frequency", "units", type_=pa.string()),
        pa.field("realtime_start", pa.date32()),
    ]
)

#: ``gold/sentiment_daily``: news sentiment of one asset-day; scores null until scored.
SENTIMENT_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("ts", UTC_TS),
        _required("article_count", pa.int32()),
        *_optional("sentiment_score", "confidence", "positive_share", "negative_share"),
        pa.field("model_version", pa.string()),
    ]
)


def _market_measure(name: str) -> pa.Field[Any]:
    return pa.field(name, pa.int64() if name in MARKET_COUNT_MEASURES else _FLOAT)


#: ``gold/market_daily``: the market analytics of one asset-day (docs/data-model.md). Every
#: calendar day from the asset's first observation to the last day of the data: stocks carried
#: with their as-of dates, flows only on observed days, ``stale`` when ``as_of`` is too old.
MARKET_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("ts", UTC_TS),
        *(_market_measure(name) for name in (*MARKET_STOCK_MEASURES, *MARKET_FLOW_MEASURES)),
        pa.field("yield_method", pa.string()),
        *_optional(*MARKET_AS_OF_COLUMNS, type_=pa.date32()),
        _required("stale", pa.bool_()),
    ]
)

#: Groups the market aggregates are taken over: reference columns of ``assets``.
MarketGroup = Literal["asset_class", "network", "issuer", "all"]
MARKET_GROUPS: tuple[MarketGroup, ...] = ("asset_class", "network", "issuer", "all")
#: Buckets of the market time series (ISO weeks start on Monday, months on the 1st, UTC).
MarketInterval = Literal["day", "week", "month"]
MARKET_INTERVALS: tuple[MarketInterval, ...] = ("day", "week", "month")
#: The stock measures an aggregate sums (over the assets' last rows in the bucket); each has a
#: ``stale_`` twin summing the stale assets' last known values apart.
AGGREGATE_STOCKS = ("value_usd", "market_value_usd", "asset_value_usd", "holders")
#: The flow measures an aggregate sums over every day of the bucket.
AGGREGATE_FLOWS = MARKET_FLOW_MEASURES

#: One group in one bucket of a market aggregate (a read: ``ServingStore.market_aggregates``).
MARKET_AGGREGATE_SCHEMA = pa.schema(
    [
        _required("ts", UTC_TS),
        pa.field("group", pa.string()),
        _required("last_day", pa.date32()),
        _required("assets", pa.int64()),
        _required("stale_assets", pa.int64()),
        *(_market_measure(name) for name in AGGREGATE_STOCKS),
        *(_market_measure(name).with_name(f"stale_{name}") for name in AGGREGATE_STOCKS),
        *(_market_measure(name) for name in AGGREGATE_FLOWS),
    ]
)

#: Mean news sentiment per asset over a window (a read: ``ServingStore.sentiment_means``).
SENTIMENT_MEAN_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        pa.field("sentiment_score", _FLOAT),
        _required("article_count", pa.int64()),
    ]
)

#: One forecast point: the value predicted for ``target_date`` by the run of ``model_version``
#: at ``generated_at`` for a ``horizon_days`` horizon, with 80% and 95% interval bounds.
PREDICTIONS_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("horizon_days", pa.int32()),
        _required("generated_at", UTC_TS),
        _required("model_version", pa.string()),
        _required("target_date", pa.date32()),
        _required("value", pa.float64()),
        *_optional("lower_80", "upper_80", "lower_95", "upper_95"),
    ]
)

#: The end point of an asset's newest forecast run, with the close it was made from (a read,
#: not a table: predictions joined with the daily bars).
FORECAST_SUMMARY_SCHEMA = pa.schema([*PREDICTIONS_SCHEMA, pa.field("last_close", pa.float64())])

#: One risk assessment: composite score 1-100 and sub-scores; ``factors`` is JSON text.
RISK_SCORES_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("calculated_at", UTC_TS),
        _required("model_version", pa.string()),
        _required("composite_score", pa.int32()),
        *_optional(
            "market_risk", "credit_risk", "regulatory_risk", "technical_risk", type_=pa.int32()
        ),
        _required("factors", pa.string()),
    ]
)

#: The performance figures of a signal's backtest; ``hold_`` twins are buy-and-hold's over the
#: same days (docs/forecasting.md, "Signals").
SIGNAL_PERFORMANCE = ("total_return", "sharpe", "sortino", "max_drawdown")

#: One signal of one asset as of a day (``gold/signals``): its direction (-1 short, 0 flat,
#: 1 long), strength 0..1, the inputs it was decided from (JSON text: values and the day they
#: are of), its rule in words, and its backtest beside buy-and-hold over ``window_start`` ..
#: ``window_end`` (``days`` daily returns). ``hit_rate`` is null when the signal never held a
#: position. ``generated_at`` is the end of the ``as_of`` day. Read-only: nothing trades.
SIGNALS_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("signal", pa.string()),
        _required("generated_at", UTC_TS),
        _required("as_of", pa.date32()),
        _required("direction", pa.int32()),
        _required("strength", _FLOAT),
        _required("inputs", pa.string()),
        _required("rule", pa.string()),
        _required("window_start", pa.date32()),
        _required("window_end", pa.date32()),
        _required("days", pa.int32()),
        *(_required(name, _FLOAT) for name in SIGNAL_PERFORMANCE),
        pa.field("hit_rate", _FLOAT),
        _required("exposure", _FLOAT),
        *(_required(f"hold_{name}", _FLOAT) for name in (*SIGNAL_PERFORMANCE, "hit_rate")),
    ]
)


#: One news article naming one asset (an article naming several assets is a row for each):
#: ``ts`` is when it was published; its headline, link and outlet, and the sentiment of its
#: headline and description as scored by ``model_version`` (null until scored).
NEWS_SCHEMA = pa.schema(
    [
        _required("asset_id", pa.string()),
        _required("ts", UTC_TS),
        _required("article_id", pa.string()),
        _required("title", pa.string()),
        *_optional("url", "outlet", type_=pa.string()),
        *_optional("sentiment_score"),
        *_optional("sentiment_label", "model_version", type_=pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class ServedTable:
    """A table of the store: ``name`` in SQL, ``label`` in messages, the Arrow ``schema`` its
    upsert takes and its reads return, its natural ``key`` (the upsert's conflict target) and
    the ``time_column`` of that key that orders its rows. ``json_columns`` are JSON text in
    Arrow and JSON/JSONB in SQL. ``references_assets``: its ``asset_id`` is a foreign key of
    ``assets``, so loads of unknown assets are refused."""

    name: str
    label: str
    schema: pa.Schema
    key: tuple[str, ...]
    time_column: str = "ts"
    json_columns: frozenset[str] = frozenset()
    references_assets: bool = False
    #: The columns naming one series where that is less than the key without its time column
    #: (news: an asset's articles, whose key has the article too).
    series_by: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in (*self.key, self.time_column) if name not in self.schema.names]
        if unknown or self.time_column not in self.key:
            raise ValueError(f"{self.name}: key {self.key} / time column {self.time_column!r}")

    @property
    def values(self) -> tuple[str, ...]:
        """The columns an upsert may change: every column not in the key."""
        return tuple(name for name in self.schema.names if name not in self.key)

    @property
    def series_key(self) -> tuple[str, ...]:
        """The key columns that name one series (the key without its time column, unless
        ``series_by`` says less): what a read of one series filters on."""
        if self.series_by is not None:
            return self.series_by
        return tuple(name for name in self.key if name != self.time_column)


OHLCV = ServedTable("ohlcv", "OHLCV bars", OHLCV_SCHEMA, ("asset_id", "resolution", "ts"))
#: 1m/5m bars, apart from the others so that retention can drop whole chunks of them.
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
    time_column="generated_at",
    references_assets=True,
)
MARKET = ServedTable("market_daily", "market analytics", MARKET_SCHEMA, ("asset_id", "ts"))
NEWS = ServedTable(
    "news_articles",
    "news articles",
    NEWS_SCHEMA,
    ("asset_id", "ts", "article_id"),
    series_by=("asset_id",),
)
RISK_SCORES = ServedTable(
    "risk_scores",
    "risk scores",
    RISK_SCORES_SCHEMA,
    ("asset_id", "calculated_at", "model_version"),
    time_column="calculated_at",
    json_columns=frozenset({"factors"}),
    references_assets=True,
)
SIGNALS = ServedTable(
    "signals",
    "signals",
    SIGNALS_SCHEMA,
    ("asset_id", "signal", "generated_at"),
    time_column="generated_at",
    json_columns=frozenset({"inputs"}),
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
    MARKET,
    NEWS,
    SIGNALS,
)

#: The reference table of the store, keyed by ``asset_id``.
ASSETS = "assets"
#: Columns of ``assets`` besides ``doc``, the full :class:`~pipelines.contracts.reference.Asset`
#: as JSON: the ones worth filtering or joining on in SQL. ``doc`` is what is read back, so a
#: new field of the asset needs no migration.
ASSET_COLUMNS = (
    "asset_id",
    "symbol",
    "name",
    "asset_class",
    "blockchain_network",
    "contract_address",
    "issuer_name",
)

#: Every table the store's row counts report, besides the OHLCV resolutions.
COUNTED_TABLES: tuple[str, ...] = (
    ASSETS,
    ONCHAIN.name,
    FEATURES.name,
    ECONOMIC.name,
    SENTIMENT.name,
    PREDICTIONS.name,
    RISK_SCORES.name,
    MARKET.name,
    NEWS.name,
    SIGNALS.name,
)
