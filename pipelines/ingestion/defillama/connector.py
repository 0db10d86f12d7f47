"""DefiLlama: TVL of the RWA protocols, and supply and peg of the stablecoins they settle in.

Endpoints (https://defillama.com/docs/api; no key), all landed in the ``onchain`` dataset.
DefiLlama serves whole histories and takes no date range, so each run lands the full series
and silver keeps one row per (entity, date).

``GET {RWA_DEFILLAMA_BASE_URL}/protocol/{slug}``, for each asset's ``defillama_slug``
    ``{"id", "name", "symbol", "category", "chains": [...], "gecko_id", "slug",
    "tvl": [{"date": <unix s>, "totalLiquidityUSD": float}, ...],
    "tokensInUsd": [{"date", "tokens": {symbol: usd}}], "tokens": [{"date", "tokens": {symbol:
    amount}}], "chainTvls": {chain: {"tvl": [...], "tokensInUsd": [...], "tokens": [...]}},
    "currentChainTvls": {chain: usd}, ...}``. An unknown slug answers 400
    ``{"message": "Protocol is not in our database"}``.

``GET {RWA_DEFILLAMA_STABLECOINS_URL}/stablecoins?includePrices=true``
    ``{"peggedAssets": [{"id": "1", "name", "symbol", "gecko_id", "pegType": "peggedUSD",
    "pegMechanism", "price": float, "circulating": {"peggedUSD": float},
    "circulatingPrevDay"/"Week"/"Month": {...}, "chainCirculating": {chain: {"current": {...},
    ...}}, "chains": [...]}, ...]}``: today's supply and price of every stablecoin. DefiLlama
    numbers stablecoins itself, so the ids for the per-coin charts are read from this answer:
    every listed coin whose ``gecko_id`` is a reference asset's ``coingecko_id`` gets a chart
    (a follow-up request, see :meth:`~pipelines.ingestion.base.Connector.follow_ups`).

``GET {RWA_DEFILLAMA_STABLECOINS_URL}/stablecoincharts/all?stablecoin={id}``
    ``[{"date": "<unix s>" (a string), "totalCirculating": {"peggedUSD": float},
    "totalCirculatingUSD": {...}, "totalMintedUSD": {...}, "totalBridgedToUSD": {...},
    "totalUnreleased": {...}}, ...]``: daily supply history of one coin, in coins and in USD.

``GET {RWA_DEFILLAMA_STABLECOINS_URL}/stablecoinprices``
    ``[{"date": <unix s>, "prices": {gecko_id: usd price}}, ...]``: the daily peg history of
    every stablecoin, keyed by CoinGecko id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pipelines.contracts.reference import Asset
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.http import HttpClient, HttpConnector, Shape

PROTOCOL_ENDPOINT = "/protocol/{slug}"
STABLECOINS_ENDPOINT = "/stablecoins"
STABLECOIN_CHART_ENDPOINT = "/stablecoincharts/all"
STABLECOIN_PRICES_ENDPOINT = "/stablecoinprices"

#: DefiLlama publishes no limit for its free API (fair use, about 300/min observed); 2/s is
#: well inside it.
RATE_PER_S = 2.0

_STABLECOIN_ENDPOINTS = frozenset(
    {STABLECOINS_ENDPOINT, STABLECOIN_CHART_ENDPOINT, STABLECOIN_PRICES_ENDPOINT}
)
_SHAPES: dict[str, Shape] = {
    PROTOCOL_ENDPOINT: Shape(dict, ("tvl",)),
    STABLECOINS_ENDPOINT: Shape(dict, ("peggedAssets",)),
    STABLECOIN_CHART_ENDPOINT: Shape(list),
    STABLECOIN_PRICES_ENDPOINT: Shape(list),
}


class DefiLlamaSource(HttpConnector):
    """Protocol TVL per ``defillama_slug``; stablecoin supply and peg per ``coingecko_id``."""

    name: ClassVar[str] = "defillama"

    def __init__(
        self, assets: Sequence[Asset], *, tvl_client: HttpClient, stablecoins_client: HttpClient
    ) -> None:
        super().__init__(tvl_client, stablecoins_client)
        self.tvl_client = tvl_client
        self.stablecoins_client = stablecoins_client
        # Several assets can share a protocol (OUSG and USDY are both Ondo): fetch each once.
        self.protocols: tuple[str, ...] = tuple(
            dict.fromkeys(a.defillama_slug for a in assets if a.defillama_slug)
        )
        self.gecko_ids: frozenset[str] = frozenset(a.coingecko_id for a in assets if a.coingecko_id)

    @classmethod
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> DefiLlamaSource:
        def client(base_url: str) -> HttpClient:
            return HttpClient.for_source(
                cls.name, settings, base_url=base_url, rate_per_s=RATE_PER_S
            )

        return cls(
            assets,
            tvl_client=client(settings.defillama_base_url),
            stablecoins_client=client(settings.defillama_stablecoins_url),
        )

    def client_for(self, request: SourceRequest) -> HttpClient:
        if request.endpoint in _STABLECOIN_ENDPOINTS:
            return self.stablecoins_client
        return self.tvl_client

    def shape_for(self, request: SourceRequest) -> Shape | None:
        return _SHAPES.get(request.endpoint)

    # -- the steps ------------------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        # The window does not narrow anything: these endpoints only serve whole histories.
        requests = [
            SourceRequest("onchain", PROTOCOL_ENDPOINT, {"slug": slug}) for slug in self.protocols
        ]
        if self.gecko_ids:
            requests += [
                SourceRequest("onchain", STABLECOINS_ENDPOINT, {"includePrices": "true"}),
                SourceRequest("onchain", STABLECOIN_PRICES_ENDPOINT),
            ]
        return requests

    def follow_ups(self, request: SourceRequest, response: RawResponse) -> list[SourceRequest]:
        """One supply chart per listed stablecoin that is a reference asset."""
        if request.endpoint != STABLECOINS_ENDPOINT:
            return []
        listed = response.payload.get("peggedAssets")
        return [
            SourceRequest("onchain", STABLECOIN_CHART_ENDPOINT, {"stablecoin": coin["id"]})
            for coin in (listed if isinstance(listed, list) else [])
            if isinstance(coin, dict)
            and coin.get("gecko_id") in self.gecko_ids
            and isinstance(coin.get("id"), str | int)
        ]
