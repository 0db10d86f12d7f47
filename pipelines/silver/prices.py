"""``silver/prices``: one OHLCV bar per (asset, resolution, bar start).

Parsers:

* ``simulated`` -- CoinAPI ``GET /v1/ohlcv/{symbol_id}/history``: ``[{time_period_start,
  price_open, price_high, price_low, price_close, volume_traded, trades_count, ...}]``; the
  asset is the base of the ``EXCHANGE_SPOT_BASE_QUOTE`` symbol id, the resolution the
  ``period_id``.
* ``coingecko`` -- ``GET /coins/{id}/ohlc``: ``[[close ms, open, high, low, close], ...]``. The
  API documents the candle size by the ``days`` asked for (30 minutes for 1-2 days, 4 hours for
  3-30, 4 days beyond) and stamps each candle with its *close* time, so ``ts`` = close time -
  candle size. It publishes no volume: ``volume`` and ``trades`` are null.

Ignored (counted, left in bronze): CoinGecko ``market_chart/range`` -- price *points* at
irregular instants with a rolling 24-hour volume, not bars: turning them into bars would invent
open/high/low and double count volume -- and ``coins/markets``, a snapshot of now.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.reference import Asset
from pipelines.ingestion.coingecko import MARKET_CHART_ENDPOINT, MARKETS_ENDPOINT, OHLC_ENDPOINT
from pipelines.ingestion.simulated import PRICES_ENDPOINT
from pipelines.silver.spec import (
    PRICE_LIMIT,
    UTC_TS,
    DatasetSpec,
    Envelope,
    IgnoredEndpoint,
    PayloadParser,
    Record,
    map_lookup,
    silver_schema,
)

SCHEMA = silver_schema(
    pa.field("date", pa.date32()),
    pa.field("asset_id", pa.string()),
    pa.field("resolution", pa.string()),
    pa.field("ts", UTC_TS),
    pa.field("open", pa.float64()),
    pa.field("high", pa.float64()),
    pa.field("low", pa.float64()),
    pa.field("close", pa.float64()),
    pa.field("volume", pa.float64()),
    pa.field("trades", pa.int64()),
    pa.field("symbol_id", pa.string()),
)
KEYS = ("date", "asset_id", "resolution", "ts")  # `date` first: lets the MERGE prune partitions

#: CoinAPI ``period_id`` -> our resolution names.
PERIODS: Mapping[str, str] = {
    "1MIN": "1m",
    "5MIN": "5m",
    "15MIN": "15m",
    "1HRS": "1h",
    "1DAY": "1d",
}
_PRICES = ("open", "high", "low", "close")


def ticker_key(symbol: str) -> str:
    """Exchanges differ in case and punctuation of tickers; compare upper-case alphanumerics."""
    return re.sub(r"[^A-Z0-9]", "", symbol.upper())


#: What a CoinAPI symbol id may be written with. Anything else (an emoji, a zero-width space,
#: full-width letters, whitespace) refuses the record: ``ticker_key`` drops punctuation, and
#: must never be what turns "BTC\u200b" or "BTC🚀" into BTC. No Unicode normalisation is done.
SYMBOL_ID_CHARACTERS = r"^[A-Za-z0-9._+-]+$"


def _bar_times(record: Record, ts: Column) -> None:
    record.set("date", F.to_date(ts))


class CoinApiBars(PayloadParser):
    """CoinAPI OHLCV history, as the simulated source sends it."""

    source: str = "simulated"
    endpoints: tuple[str, ...] = (PRICES_ENDPOINT,)
    shape: str = "CoinAPI OHLCV array"
    params: tuple[str, ...] = ("symbol_id", "period_id")
    FIELDS: tuple[str, ...] = (
        "time_period_start",
        "price_open",
        "price_high",
        "price_low",
        "price_close",
        "volume_traded",
        "trades_count",
    )

    def __init__(self, assets: Sequence[Asset]) -> None:
        self.tickers = {ticker_key(a.symbol): a.asset_id for a in assets}

    @property
    def payload_type(self) -> DataType:
        return ArrayType(StructType([StructField(name, StringType()) for name in self.FIELDS]))

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        symbol = record.text("symbol_id", envelope.param("symbol_id"), "params.symbol_id")
        record.check(
            ~symbol.rlike(SYMBOL_ID_CHARACTERS),
            reasons.SYMBOL_ID_CHARACTERS.text(),
        )
        # EXCHANGE_SPOT_BASE_QUOTE: the base names the asset.
        base = F.regexp_replace(
            F.upper(F.regexp_extract(symbol, r"^[^_]+_SPOT_(.+)_[^_]+$", 1)), r"[^A-Z0-9]", ""
        )
        record.lookup("asset_id", base, self.tickers, reasons.UNKNOWN_SYMBOL_ID.text())
        period = record.text("_period", envelope.param("period_id"), "params.period_id")
        record.lookup("resolution", period, PERIODS, reasons.UNSUPPORTED_PERIOD_ID.text())
        ts = record.timestamp("ts", item["time_period_start"], "time_period_start")
        _bar_times(record, ts)
        for price in _PRICES:
            record.number(price, item[f"price_{price}"], f"price_{price}", limit=PRICE_LIMIT)
        record.number("volume", item["volume_traded"], "volume_traded", required=False)
        record.number("trades", item["trades_count"], "trades_count", required=False, integer=True)
        return record


#: CoinGecko OHLC candle size by the ``days`` asked for (docs: "1-2 days: 30 minutes, 3-30
#: days: 4 hours, 31 days and beyond: 4 days").
def coingecko_resolution(days: Column) -> Column:
    return (
        F.when(days <= 2, F.lit("30m")).when(days <= 30, F.lit("4h")).when(days > 30, F.lit("4d"))
    )


_RESOLUTION_SECONDS: Mapping[str, int] = {"30m": 1_800, "4h": 14_400, "4d": 345_600}


class CoinGeckoOhlc(PayloadParser):
    """CoinGecko ``/coins/{id}/ohlc`` candles."""

    source: str = "coingecko"
    endpoints: tuple[str, ...] = (OHLC_ENDPOINT,)
    shape: str = "CoinGecko OHLC array"
    params: tuple[str, ...] = ("id", "days")

    def __init__(self, assets: Sequence[Asset]) -> None:
        self.coins = {a.coingecko_id: a.asset_id for a in assets if a.coingecko_id}

    @property
    def payload_type(self) -> DataType:
        return ArrayType(ArrayType(StringType()))

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        coin = record.text("symbol_id", envelope.param("id"), "params.id")
        record.lookup("asset_id", coin, self.coins, reasons.UNKNOWN_COINGECKO_COIN.text())
        days = record.number("_days", envelope.param("days"), "params.days", integer=True)
        resolution = record.set("resolution", coingecko_resolution(days))
        # Checked before any value is read; values are read with `get` (null past the end),
        # since `item[i]` past the end raises under ANSI mode whatever the check says.
        record.check(item.isNull() | (F.size(item) < 5), reasons.SHORT_CANDLE.text())
        closed = record.epoch("_closed", F.get(item, 0), "[0] (close time)", millis=True)
        seconds = map_lookup({k: str(v) for k, v in _RESOLUTION_SECONDS.items()}, resolution)
        length_us = seconds.cast("long") * 1_000_000
        ts = record.set("ts", F.timestamp_micros(F.unix_micros(closed) - length_us))
        _bar_times(record, ts)
        for position, price in enumerate(_PRICES, start=1):
            record.number(
                price, F.get(item, position), f"[{position}] ({price})", limit=PRICE_LIMIT
            )
        return record


def prices_spec(assets: Sequence[Asset]) -> DatasetSpec:
    return DatasetSpec(
        name="prices",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("date",),
        parsers=(CoinApiBars(assets), CoinGeckoOhlc(assets)),
        ignored=(
            IgnoredEndpoint(
                "coingecko",
                MARKET_CHART_ENDPOINT,
                "price points with a rolling 24h volume, not bars",
            ),
            IgnoredEndpoint("coingecko", MARKETS_ENDPOINT, "a snapshot of now, not bars"),
        ),
    )
