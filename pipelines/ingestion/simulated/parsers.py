"""Payloads only the simulated source sends -> silver records.

* ``prices``: CoinAPI ``GET /v1/ohlcv/{symbol_id}/history``: ``[{time_period_start,
  price_open, price_high, price_low, price_close, volume_traded, trades_count, ...}]``; the
  asset is the base of the ``EXCHANGE_SPOT_BASE_QUOTE`` symbol id, the resolution the
  ``period_id`` (:class:`CoinApiBars`).
* ``onchain``: ``/v2/tokens/{asset}/metrics/daily``: ``[{timestamp, holders, transfer_count,
  transfer_volume_usd, total_supply, dex_liquidity_usd, exchange_inflow_usd,
  exchange_outflow_usd, nav_usd}]``; ``params.asset`` is the reference asset id
  (:class:`SimulatedDailyMetrics`).

Its FRED and NewsAPI payloads are read by those sources' own parsers (see the registry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.measures import (
    AMOUNT_LIMIT,
    COUNT_METRICS,
    PER_UNIT_METRICS,
    PRICE_LIMIT,
    USD_METRICS,
)
from pipelines.contracts.reference import Asset
from pipelines.ingestion.payloads import (
    Envelope,
    PayloadParser,
    Record,
    text_struct,
)
from pipelines.ingestion.simulated.requests import ONCHAIN_ENDPOINT, PRICES_ENDPOINT, SIMULATED
from pipelines.ingestion.sql_records import Sql, SqlEnvelope, SqlRecord, field, matches

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
SYMBOL_ID_CHARACTERS = r"^[A-Za-z0-9._+-]+\z"


class CoinApiBars(PayloadParser):
    """CoinAPI OHLCV history, as the simulated source sends it."""

    source: str = SIMULATED
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

    def line_record(self, envelope: Envelope) -> Record:
        record = Record()
        symbol = record.text("symbol_id", envelope.param("symbol_id"), "params.symbol_id")
        record.check(
            ~symbol.rlike(SYMBOL_ID_CHARACTERS),
            reasons.SYMBOL_ID_CHARACTERS.text(),
        )
        # EXCHANGE_SPOT_BASE_QUOTE: the base names the asset.
        base = F.regexp_replace(
            F.upper(F.regexp_extract(symbol, r"^[^_]+_SPOT_(.+)_[^_]+\z", 1)), r"[^A-Z0-9]", ""
        )
        record.lookup("asset_id", base, self.tickers, reasons.UNKNOWN_SYMBOL_ID.text())
        period = record.text("_period", envelope.param("period_id"), "params.period_id")
        record.lookup("resolution", period, PERIODS, reasons.UNSUPPORTED_PERIOD_ID.text())
        return record

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        ts = record.timestamp("ts", item["time_period_start"], "time_period_start")
        record.set("date", F.to_date(ts))
        for price in _PRICES:
            record.number(price, item[f"price_{price}"], f"price_{price}", limit=PRICE_LIMIT)
        record.number("volume", item["volume_traded"], "volume_traded", required=False)
        record.number("trades", item["trades_count"], "trades_count", required=False, integer=True)
        return record

    def sql_line_record(self, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        symbol = record.text("symbol_id", envelope.param("symbol_id"), "params.symbol_id")
        record.check(
            f"NOT {matches(symbol, SYMBOL_ID_CHARACTERS)}", reasons.SYMBOL_ID_CHARACTERS.text()
        )
        # EXCHANGE_SPOT_BASE_QUOTE: the base names the asset.
        base = (
            f"regexp_replace(upper(regexp_extract({symbol}, '^[^_]+_SPOT_(.+)_[^_]+\\z', 1)),"
            " '[^A-Z0-9]', '', 'g')"
        )
        record.lookup("asset_id", base, self.tickers, reasons.UNKNOWN_SYMBOL_ID.text())
        period = record.text("_period", envelope.param("period_id"), "params.period_id")
        record.lookup("resolution", period, PERIODS, reasons.UNSUPPORTED_PERIOD_ID.text())
        return record

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        ts = record.timestamp("ts", field(item, "time_period_start"), "time_period_start")
        record.set("date", f"CAST({ts} AS DATE)")
        for price in _PRICES:
            name = f"price_{price}"
            record.number(price, field(item, name), name, limit=PRICE_LIMIT)
        record.number("volume", field(item, "volume_traded"), "volume_traded", required=False)
        trades = field(item, "trades_count")
        record.number("trades", trades, "trades_count", required=False, integer=True)
        return record


class SimulatedDailyMetrics(PayloadParser):
    """Daily token metrics, as the simulated source sends them."""

    source: str = SIMULATED
    endpoints: tuple[str, ...] = (ONCHAIN_ENDPOINT,)
    shape: str = "daily token metrics array"
    params: tuple[str, ...] = ("asset",)

    def __init__(self, assets: Sequence[Asset]) -> None:
        self.asset_ids = {a.asset_id: a.asset_id for a in assets}

    @property
    def payload_type(self) -> DataType:
        return ArrayType(text_struct("timestamp", *COUNT_METRICS, *USD_METRICS))

    def items(self, prepared: Column) -> Column:
        return prepared

    def line_record(self, envelope: Envelope) -> Record:
        record = Record()
        asset = record.text("_asset", envelope.param("asset"), "params.asset")
        record.lookup("asset_id", asset, self.asset_ids, reasons.UNKNOWN_ASSET_PARAM.text())
        return record

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        record.daily(record.timestamp("_instant", item["timestamp"], "timestamp"))
        for name in COUNT_METRICS:
            record.number(name, item[name], name, required=False, integer=True)
        for name in USD_METRICS:
            limit = PRICE_LIMIT if name in PER_UNIT_METRICS else AMOUNT_LIMIT
            record.number(name, item[name], name, required=False, limit=limit)
        return record

    def sql_line_record(self, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        asset = record.text("_asset", envelope.param("asset"), "params.asset")
        record.lookup("asset_id", asset, self.asset_ids, reasons.UNKNOWN_ASSET_PARAM.text())
        return record

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        record.daily(record.timestamp("_instant", field(item, "timestamp"), "timestamp"))
        for name in COUNT_METRICS:
            record.number(name, field(item, name), name, required=False, integer=True)
        for name in USD_METRICS:
            limit = PRICE_LIMIT if name in PER_UNIT_METRICS else AMOUNT_LIMIT
            record.number(name, field(item, name), name, required=False, limit=limit)
        return record
