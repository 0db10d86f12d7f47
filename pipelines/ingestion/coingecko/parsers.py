"""CoinGecko payloads -> ``silver/prices`` records.

* ``GET /coins/{id}/ohlc``: ``[[close ms, open, high, low, close], ...]``. The API documents the
  candle size by the ``days`` asked for (30 minutes for 1-2 days, 4 hours for 3-30, 4 days
  beyond) and stamps each candle with its *close* time, so ``ts`` = close time - candle size.
  It publishes no volume: ``volume`` and ``trades`` are null.

Ignored (counted, left in bronze, see :data:`IGNORED`): ``market_chart/range`` -- price
*points* at irregular instants with a rolling 24-hour volume, not bars: turning them into bars
would invent open/high/low and double count volume -- and ``coins/markets``, a snapshot of now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.measures import PRICE_LIMIT
from pipelines.contracts.reference import Asset
from pipelines.ingestion.coingecko.connector import (
    MARKET_CHART_ENDPOINT,
    MARKETS_ENDPOINT,
    OHLC_ENDPOINT,
    CoinGeckoSource,
)
from pipelines.ingestion.payloads import (
    Envelope,
    IgnoredEndpoint,
    PayloadParser,
    Record,
    map_lookup,
)
from pipelines.ingestion.sql_records import (
    Sql,
    SqlEnvelope,
    SqlRecord,
    element,
    when,
    within_silver_years,
)
from pipelines.ingestion.sql_records import map_lookup as sql_map_lookup

_PRICES = ("open", "high", "low", "close")


#: CoinGecko OHLC candle size by the ``days`` asked for (docs: "1-2 days: 30 minutes, 3-30
#: days: 4 hours, 31 days and beyond: 4 days").
def coingecko_resolution(days: Column) -> Column:
    return (
        F.when(days <= 2, F.lit("30m")).when(days <= 30, F.lit("4h")).when(days > 30, F.lit("4d"))
    )


_RESOLUTION_SECONDS: Mapping[str, int] = {"30m": 1_800, "4h": 14_400, "4d": 345_600}
#: A candle's first element, as reasons name it.
_CLOSE_TIME = "[0] (close time)"


class CoinGeckoOhlc(PayloadParser):
    """CoinGecko ``/coins/{id}/ohlc`` candles."""

    source: str = CoinGeckoSource.name
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
        closed = record.epoch("_closed", F.get(item, 0), _CLOSE_TIME, millis=True)
        seconds = map_lookup({k: str(v) for k, v in _RESOLUTION_SECONDS.items()}, resolution)
        length_us = seconds.cast("long") * 1_000_000
        opened = F.timestamp_micros(F.unix_micros(closed) - length_us)
        # A close time in year 1's first candle opens the candle in year 0.
        in_range = F.year(opened).between(1, 9999)
        record.check(
            opened.isNotNull() & ~in_range,
            reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=_CLOSE_TIME),
        )
        ts = record.set("ts", F.when(in_range, opened))
        record.set("date", F.to_date(ts))
        for position, price in enumerate(_PRICES, start=1):
            record.number(
                price, F.get(item, position), f"[{position}] ({price})", limit=PRICE_LIMIT
            )
        return record

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        coin = record.text("symbol_id", envelope.param("id"), "params.id")
        record.lookup("asset_id", coin, self.coins, reasons.UNKNOWN_COINGECKO_COIN.text())
        days = record.number("_days", envelope.param("days"), "params.days", integer=True)
        resolution = record.set(
            "resolution",
            f"(CASE WHEN {days} <= 2 THEN '30m' WHEN {days} <= 30 THEN '4h'"
            f" WHEN {days} > 30 THEN '4d' END)",
        )
        # Checked before any value is read (values past the end read as null anyway).
        record.check(f"({item} IS NULL OR len({item}) < 5)", reasons.SHORT_CANDLE.text())
        closed = record.epoch("_closed", element(item, 0), _CLOSE_TIME, millis=True)
        seconds = sql_map_lookup({k: str(v) for k, v in _RESOLUTION_SECONDS.items()}, resolution)
        opened = record.once(
            "coingecko_opened",
            f"CAST(make_timestamp(epoch_us({closed}) - CAST({seconds} AS BIGINT) * 1000000)"
            " AS TIMESTAMPTZ)",
        )
        in_range = within_silver_years(opened)
        record.check(
            f"({opened} IS NOT NULL AND NOT {in_range})",
            reasons.FIELD_YEAR_OUT_OF_RANGE.text(label=_CLOSE_TIME),
        )
        ts = record.set("ts", when(in_range, opened))
        record.set("date", f"CAST({ts} AS DATE)")
        for position, price in enumerate(_PRICES, start=1):
            label = f"[{position}] ({price})"
            record.number(price, element(item, position), label, limit=PRICE_LIMIT)
        return record


#: CoinGecko endpoints that land in ``prices`` but hold no bars.
IGNORED: tuple[IgnoredEndpoint, ...] = (
    IgnoredEndpoint(
        CoinGeckoSource.name,
        MARKET_CHART_ENDPOINT,
        "price points with a rolling 24h volume, not bars",
    ),
    IgnoredEndpoint(CoinGeckoSource.name, MARKETS_ENDPOINT, "a snapshot of now, not bars"),
)
