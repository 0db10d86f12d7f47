"""``silver/onchain``: one asset-day of on-chain metrics from one source.

Parsers:

* ``simulated`` -- ``/v2/tokens/{asset}/metrics/daily``: ``[{timestamp, holders, transfer_count,
  transfer_volume_usd, total_supply, dex_liquidity_usd, exchange_inflow_usd,
  exchange_outflow_usd, nav_usd}]``; ``params.asset`` is the reference asset id.
* ``defillama`` -- ``/protocol/{slug}``: ``tvl`` (``[{date: unix s, totalLiquidityUSD}]``) is the
  ``tvl_usd`` of the one reference asset whose ``defillama_slug`` is the protocol. When several
  assets share the protocol (Ondo: OUSG and USDY; Maple), the protocol's TVL is not any one
  asset's: each asset gets its own token's USD value from ``tokensInUsd`` (by ticker), and days
  on which the protocol did not hold that token yet give no row.
* ``defillama`` -- ``/stablecoincharts/all?stablecoin=<id>`` (rows of the stablecoins API carry
  ``source`` = ``defillama-stablecoins``: an asset like USDe has both a protocol TVL and a
  supply, and the two must not share a key): ``totalCirculatingUSD.peggedUSD``
  per day is ``circulating_usd``. DefiLlama numbers stablecoins itself; the asset is resolved
  from ``params.gecko_id`` (the CoinGecko id of the coin, see docs/silver.md) -- a chart without
  it cannot be attributed and is refused.
* ``defillama`` -- ``/stablecoins``: today's ``circulating.peggedUSD`` of every listed coin that
  is a reference asset (by ``gecko_id``), dated on the fetch day. The listing covers every
  stablecoin DefiLlama tracks; the others are not ours and are skipped, not refused.

Ignored: ``/stablecoinprices`` (a daily peg *price* per coin: a price, not an on-chain metric).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.reference import Asset
from pipelines.ingestion.defillama import (
    PROTOCOL_ENDPOINT,
    STABLECOIN_CHART_ENDPOINT,
    STABLECOIN_PRICES_ENDPOINT,
    STABLECOINS_ENDPOINT,
)
from pipelines.ingestion.simulated import ONCHAIN_ENDPOINT
from pipelines.silver.spec import (
    AMOUNT_LIMIT,
    PRICE_LIMIT,
    UTC_TS,
    DatasetSpec,
    Envelope,
    IgnoredEndpoint,
    PayloadParser,
    Record,
    map_lookup,
    param_column,
    silver_schema,
)

COUNT_METRICS = ("holders", "transfer_count")
USD_METRICS = (
    "transfer_volume_usd",
    "total_supply",
    "dex_liquidity_usd",
    "exchange_inflow_usd",
    "exchange_outflow_usd",
    "nav_usd",
    "tvl_usd",
    "circulating_usd",
)
#: Metrics that are a price per token (compared with the market close), not an amount.
PER_UNIT_METRICS = ("nav_usd",)
#: Every metric column of ``silver/onchain``: the one list gold and the quality suite read.
ONCHAIN_METRICS = (*COUNT_METRICS, *USD_METRICS)
SCHEMA = silver_schema(
    pa.field("date", pa.date32()),
    pa.field("asset_id", pa.string()),
    pa.field("ts", UTC_TS),
    *(pa.field(name, pa.int64()) for name in COUNT_METRICS),
    *(pa.field(name, pa.float64()) for name in USD_METRICS),
)
KEYS = ("date", "asset_id", "source", "ts")


def _day(record: Record, instant: Column) -> None:
    """``ts`` is the start of the UTC day of the metric, ``date`` that day."""
    ts = record.set("ts", F.date_trunc("day", instant))
    record.set("date", F.to_date(ts))


def _text_struct(*names: str) -> StructType:
    return StructType([StructField(name, StringType()) for name in names])


class SimulatedDailyMetrics(PayloadParser):
    source: str = "simulated"
    endpoints: tuple[str, ...] = (ONCHAIN_ENDPOINT,)
    shape: str = "daily token metrics array"
    params: tuple[str, ...] = ("asset",)

    def __init__(self, assets: Sequence[Asset]) -> None:
        self.asset_ids = {a.asset_id: a.asset_id for a in assets}

    @property
    def payload_type(self) -> DataType:
        return ArrayType(_text_struct("timestamp", *COUNT_METRICS, *USD_METRICS))

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        asset = record.text("_asset", envelope.param("asset"), "params.asset")
        record.lookup("asset_id", asset, self.asset_ids, reasons.UNKNOWN_ASSET_PARAM.text())
        _day(record, record.timestamp("_instant", item["timestamp"], "timestamp"))
        for name in COUNT_METRICS:
            record.number(name, item[name], name, required=False, integer=True)
        for name in USD_METRICS:
            limit = PRICE_LIMIT if name in PER_UNIT_METRICS else AMOUNT_LIMIT
            record.number(name, item[name], name, required=False, limit=limit)
        return record


class DefiLlamaProtocolTvl(PayloadParser):
    source: str = "defillama"
    endpoints: tuple[str, ...] = (PROTOCOL_ENDPOINT,)
    shape: str = "DefiLlama protocol"
    params: tuple[str, ...] = ("slug",)

    def __init__(self, assets: Sequence[Asset]) -> None:
        by_slug: dict[str, list[Asset]] = {}
        for asset in assets:
            if asset.defillama_slug:
                by_slug.setdefault(asset.defillama_slug, []).append(asset)
        self.single = {
            slug: group[0].asset_id for slug, group in by_slug.items() if len(group) == 1
        }
        self.shared = {slug: group for slug, group in by_slug.items() if len(group) > 1}

    @property
    def payload_type(self) -> DataType:
        daily_tokens = StructType(
            [
                StructField("date", StringType()),
                StructField("tokens", MapType(StringType(), StringType())),
            ]
        )
        return StructType(
            [
                StructField("tvl", ArrayType(_text_struct("date", "totalLiquidityUSD"))),
                StructField("tokensInUsd", ArrayType(daily_tokens)),
            ]
        )

    def prepare(self, payload: Column) -> Column:
        """One item per (day, asset): ``{date, asset_id, usd}``."""
        slug = F.col(param_column("slug"))
        whole = F.transform(
            payload["tvl"],
            lambda day: F.struct(
                day["date"].alias("date"),
                map_lookup(self.single, slug).alias("asset_id"),
                day["totalLiquidityUSD"].alias("usd"),
            ),
        )
        split: Column = F.lit(None)
        for shared_slug, group in self.shared.items():
            split = F.when(slug == shared_slug, _per_token(payload, group)).otherwise(split)
        return F.when(slug.isin(*self.shared), split).otherwise(whole)

    def line_problem(self, prepared: Column) -> Column | None:
        slug = F.col(param_column("slug"))
        return F.when(
            slug.isin(*self.shared) & prepared.isNull(),
            F.lit(reasons.NO_TOKENS_IN_USD.text()),
        )

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        slug = record.text("_slug", envelope.param("slug"), "params.slug")
        record.check(
            item["asset_id"].isNull() & slug.isNotNull(), reasons.UNKNOWN_DEFILLAMA_SLUG.text()
        )
        record.set("asset_id", item["asset_id"])
        _day(record, record.epoch("_instant", item["date"], "tvl.date", millis=False))
        record.number("tvl_usd", item["usd"], "tvl.totalLiquidityUSD")
        return record


def _per_token(payload: Column, group: Sequence[Asset]) -> Column:
    """Each asset's own token value per day, from ``tokensInUsd`` (days without it dropped)."""
    per_day = F.transform(
        payload["tokensInUsd"],
        lambda day: F.array(
            *(
                F.struct(
                    day["date"].alias("date"),
                    F.lit(asset.asset_id).alias("asset_id"),
                    F.try_element_at(day["tokens"], F.lit(asset.symbol)).alias("usd"),
                )
                for asset in group
            )
        ),
    )
    return F.filter(F.flatten(per_day), lambda item: item["usd"].isNotNull())


#: The ``source`` of rows from DefiLlama's stablecoins API. An asset can have both a protocol
#: TVL and a stablecoin supply (USDe): rows of the two APIs must not share a key.
STABLECOINS_SOURCE = "defillama-stablecoins"


class _StablecoinParser(PayloadParser):
    """Shared by the stablecoin endpoints: reference coins by CoinGecko id."""

    source: str = "defillama"

    def __init__(self, assets: Sequence[Asset]) -> None:
        self.coins = {a.coingecko_id: a.asset_id for a in assets if a.coingecko_id}

    def stablecoin_record(self) -> Record:
        record = Record()
        record.set("source", F.lit(STABLECOINS_SOURCE))
        return record


class DefiLlamaStablecoinChart(_StablecoinParser):
    endpoints: tuple[str, ...] = (STABLECOIN_CHART_ENDPOINT,)
    shape: str = "DefiLlama stablecoin chart"
    params: tuple[str, ...] = ("gecko_id",)

    @property
    def payload_type(self) -> DataType:
        return ArrayType(
            StructType(
                [
                    StructField("date", StringType()),
                    StructField("totalCirculatingUSD", _text_struct("peggedUSD")),
                ]
            )
        )

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = self.stablecoin_record()
        coin = record.text("_coin", envelope.param("gecko_id"), "params.gecko_id")
        record.lookup("asset_id", coin, self.coins, reasons.UNKNOWN_GECKO_ID_PARAM.text())
        _day(record, record.epoch("_instant", item["date"], "date", millis=False))
        usd = item["totalCirculatingUSD"]["peggedUSD"]
        record.number("circulating_usd", usd, "totalCirculatingUSD.peggedUSD")
        return record


class DefiLlamaStablecoinListing(_StablecoinParser):
    endpoints: tuple[str, ...] = (STABLECOINS_ENDPOINT,)
    shape: str = "DefiLlama stablecoin listing"

    @property
    def payload_type(self) -> DataType:
        coin = StructType(
            [
                StructField("gecko_id", StringType()),
                StructField("circulating", _text_struct("peggedUSD")),
            ]
        )
        return StructType([StructField("peggedAssets", ArrayType(coin))])

    def items(self, prepared: Column) -> Column:
        ours = list(self.coins)
        return F.filter(prepared["peggedAssets"], lambda coin: coin["gecko_id"].isin(*ours))

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = self.stablecoin_record()
        record.lookup("asset_id", item["gecko_id"], self.coins, reasons.UNKNOWN_GECKO_ID.text())
        _day(record, envelope.fetched_at)
        usd = item["circulating"]["peggedUSD"]
        record.number("circulating_usd", usd, "circulating.peggedUSD")
        return record


def onchain_spec(assets: Sequence[Asset]) -> DatasetSpec:
    return DatasetSpec(
        name="onchain",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("date",),
        parsers=(
            SimulatedDailyMetrics(assets),
            DefiLlamaProtocolTvl(assets),
            DefiLlamaStablecoinChart(assets),
            DefiLlamaStablecoinListing(assets),
        ),
        ignored=(
            IgnoredEndpoint(
                "defillama", STABLECOIN_PRICES_ENDPOINT, "peg prices are prices, not metrics"
            ),
        ),
    )
