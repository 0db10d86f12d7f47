"""CoinGecko: its connector (:mod:`.connector`) and its payload parsers (:mod:`.parsers`)."""

from pipelines.ingestion.coingecko.connector import (
    MARKET_CHART_ENDPOINT,
    MARKETS_ENDPOINT,
    OHLC_ENDPOINT,
    CoinGeckoSource,
    coingecko_client,
)
from pipelines.ingestion.coingecko.parsers import IGNORED, CoinGeckoOhlc, coingecko_resolution

__all__ = [
    "IGNORED",
    "MARKETS_ENDPOINT",
    "MARKET_CHART_ENDPOINT",
    "OHLC_ENDPOINT",
    "CoinGeckoOhlc",
    "CoinGeckoSource",
    "coingecko_client",
    "coingecko_resolution",
]
