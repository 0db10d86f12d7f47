"""DefiLlama payloads -> ``silver/onchain`` records.

* ``/protocol/{slug}``: ``tvl`` (``[{date: unix s, totalLiquidityUSD}]``) is the ``tvl_usd`` of
  the one reference asset whose ``defillama_slug`` is the protocol. When several assets share
  the protocol (Ondo: OUSG and USDY; Maple), the protocol's TVL is not any one asset's: each
  asset gets its own token's USD value from ``tokensInUsd`` (by ticker), and days on which the
  protocol did not hold that token yet give no row.
* ``/stablecoincharts/all?stablecoin=<id>`` (rows of the stablecoins API carry ``source`` =
  ``defillama-stablecoins``: an asset like USDe has both a protocol TVL and a supply, and the two
  must not share a key): ``totalCirculatingUSD.peggedUSD`` per day is ``circulating_usd``.
  DefiLlama numbers stablecoins itself; the asset is resolved from ``params.gecko_id`` (the
  CoinGecko id of the coin, see docs/silver.md) -- a chart without it cannot be attributed and
  is refused.
* ``/stablecoins``: today's ``circulating.peggedUSD`` of every listed coin that is a reference
  asset (by ``gecko_id``), dated on the fetch day. The listing covers every stablecoin
  DefiLlama tracks; the others are not ours and are skipped, not refused.

Ignored (:data:`IGNORED`): ``/stablecoinprices`` (a daily peg *price* per coin: a price, not an
on-chain metric).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, MapType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.reference import Asset
from pipelines.ingestion.defillama.connector import (
    PROTOCOL_ENDPOINT,
    STABLECOIN_CHART_ENDPOINT,
    STABLECOIN_PRICES_ENDPOINT,
    STABLECOINS_ENDPOINT,
    DefiLlamaSource,
)
from pipelines.ingestion.payloads import (
    Envelope,
    IgnoredEndpoint,
    PayloadParser,
    Record,
    map_lookup,
    param_column,
    text_struct,
)
from pipelines.ingestion.sql_records import (
    Sql,
    SqlEnvelope,
    SqlRecord,
    field,
    identifier,
    is_in,
    literal,
    when,
)
from pipelines.ingestion.sql_records import map_lookup as sql_map_lookup


class DefiLlamaProtocolTvl(PayloadParser):
    source: str = DefiLlamaSource.name
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
                StructField("tvl", ArrayType(text_struct("date", "totalLiquidityUSD"))),
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
        record.daily(record.epoch("_instant", item["date"], "tvl.date", millis=False))
        record.number("tvl_usd", item["usd"], "tvl.totalLiquidityUSD")
        return record

    # --- the DuckDB half -------------------------------------------------------------------

    def sql_prepare(self, payload: Sql) -> Sql:
        slug = identifier(param_column("slug"))
        asset_id = sql_map_lookup(self.single, slug)
        whole = (
            f"list_transform({field(payload, 'tvl')}, lambda day: struct_pack("
            f"date := {field('day', 'date')}, asset_id := {asset_id},"
            f" usd := {field('day', 'totalLiquidityUSD')}))"
        )
        split = " ".join(
            f"WHEN {slug} = {literal(shared_slug)} THEN {_sql_per_token(payload, group)}"
            for shared_slug, group in self.shared.items()
        )
        if not split:
            return whole
        return (
            f"(CASE WHEN {is_in(slug, list(self.shared))} THEN (CASE {split} END) ELSE {whole} END)"
        )

    def sql_line_problem(self, prepared: Sql) -> Sql | None:
        slug = identifier(param_column("slug"))
        return when(
            f"{is_in(slug, list(self.shared))} AND {prepared} IS NULL",
            literal(reasons.NO_TOKENS_IN_USD.text()),
        )

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        slug = record.text("_slug", envelope.param("slug"), "params.slug")
        asset_id = field(item, "asset_id")
        record.check(
            f"({asset_id} IS NULL AND {slug} IS NOT NULL)", reasons.UNKNOWN_DEFILLAMA_SLUG.text()
        )
        record.set("asset_id", asset_id)
        record.daily(record.epoch("_instant", field(item, "date"), "tvl.date", millis=False))
        record.number("tvl_usd", field(item, "usd"), "tvl.totalLiquidityUSD")
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


def _sql_per_token(payload: Sql, group: Sequence[Asset]) -> Sql:
    """:func:`_per_token` in SQL."""
    tokens = field("day", "tokens")
    per_asset = ", ".join(
        f"struct_pack(date := {field('day', 'date')}, asset_id := {literal(asset.asset_id)},"
        f" usd := map_extract_value({tokens}, {literal(asset.symbol)}))"
        for asset in group
    )
    per_day = f"list_transform({field(payload, 'tokensInUsd')}, lambda day: [{per_asset}])"
    return f"list_filter(flatten({per_day}), lambda item: {field('item', 'usd')} IS NOT NULL)"


#: The ``source`` of rows from DefiLlama's stablecoins API. An asset can have both a protocol
#: TVL and a stablecoin supply (USDe): rows of the two APIs must not share a key.
STABLECOINS_SOURCE = "defillama-stablecoins"


class _StablecoinParser(PayloadParser):
    """Shared by the stablecoin endpoints: reference coins by CoinGecko id."""

    source: str = DefiLlamaSource.name

    def __init__(self, assets: Sequence[Asset]) -> None:
        self.coins = {a.coingecko_id: a.asset_id for a in assets if a.coingecko_id}

    def stablecoin_record(self) -> Record:
        record = Record()
        record.set("source", F.lit(STABLECOINS_SOURCE))
        return record

    def sql_stablecoin_record(self) -> SqlRecord:
        record = SqlRecord()
        record.set("source", literal(STABLECOINS_SOURCE))
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
                    StructField("totalCirculatingUSD", text_struct("peggedUSD")),
                ]
            )
        )

    def items(self, prepared: Column) -> Column:
        return prepared

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = self.stablecoin_record()
        coin = record.text("_coin", envelope.param("gecko_id"), "params.gecko_id")
        record.lookup("asset_id", coin, self.coins, reasons.UNKNOWN_GECKO_ID_PARAM.text())
        record.daily(record.epoch("_instant", item["date"], "date", millis=False))
        usd = item["totalCirculatingUSD"]["peggedUSD"]
        record.number("circulating_usd", usd, "totalCirculatingUSD.peggedUSD")
        return record

    def sql_items(self, prepared: Sql) -> Sql:
        return prepared

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = self.sql_stablecoin_record()
        coin = record.text("_coin", envelope.param("gecko_id"), "params.gecko_id")
        record.lookup("asset_id", coin, self.coins, reasons.UNKNOWN_GECKO_ID_PARAM.text())
        record.daily(record.epoch("_instant", field(item, "date"), "date", millis=False))
        usd = field(field(item, "totalCirculatingUSD"), "peggedUSD")
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
                StructField("circulating", text_struct("peggedUSD")),
            ]
        )
        return StructType([StructField("peggedAssets", ArrayType(coin))])

    def items(self, prepared: Column) -> Column:
        ours = list(self.coins)
        return F.filter(prepared["peggedAssets"], lambda coin: coin["gecko_id"].isin(*ours))

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = self.stablecoin_record()
        record.lookup("asset_id", item["gecko_id"], self.coins, reasons.UNKNOWN_GECKO_ID.text())
        record.daily(envelope.fetched_at)
        usd = item["circulating"]["peggedUSD"]
        record.number("circulating_usd", usd, "circulating.peggedUSD")
        return record

    def sql_items(self, prepared: Sql) -> Sql:
        ours = is_in(field("coin", "gecko_id"), list(self.coins))
        return f"list_filter({field(prepared, 'peggedAssets')}, lambda coin: {ours})"

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = self.sql_stablecoin_record()
        gecko_id = field(item, "gecko_id")
        record.lookup("asset_id", gecko_id, self.coins, reasons.UNKNOWN_GECKO_ID.text())
        record.daily(envelope.fetched_at)
        usd = field(field(item, "circulating"), "peggedUSD")
        record.number("circulating_usd", usd, "circulating.peggedUSD")
        return record


#: DefiLlama endpoints that land in ``onchain`` but hold no on-chain metrics.
IGNORED: tuple[IgnoredEndpoint, ...] = (
    IgnoredEndpoint(
        DefiLlamaSource.name, STABLECOIN_PRICES_ENDPOINT, "peg prices are prices, not metrics"
    ),
)
