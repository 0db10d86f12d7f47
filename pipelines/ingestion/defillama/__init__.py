"""DefiLlama: its connector (:mod:`.connector`) and its payload parsers (:mod:`.parsers`)."""

from pipelines.ingestion.defillama.connector import (
    PROTOCOL_ENDPOINT,
    STABLECOIN_CHART_ENDPOINT,
    STABLECOIN_PRICES_ENDPOINT,
    STABLECOINS_ENDPOINT,
    DefiLlamaSource,
)
from pipelines.ingestion.defillama.parsers import (
    IGNORED,
    STABLECOINS_SOURCE,
    DefiLlamaProtocolTvl,
    DefiLlamaStablecoinChart,
    DefiLlamaStablecoinListing,
)

__all__ = [
    "IGNORED",
    "PROTOCOL_ENDPOINT",
    "STABLECOINS_ENDPOINT",
    "STABLECOINS_SOURCE",
    "STABLECOIN_CHART_ENDPOINT",
    "STABLECOIN_PRICES_ENDPOINT",
    "DefiLlamaProtocolTvl",
    "DefiLlamaSource",
    "DefiLlamaStablecoinChart",
    "DefiLlamaStablecoinListing",
]
