"""Source name -> connector class: the one place that knows every connector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import Connector
from pipelines.ingestion.coingecko import CoinGeckoSource
from pipelines.ingestion.defillama import DefiLlamaSource
from pipelines.ingestion.fred import FredSource
from pipelines.ingestion.news import NewsApiSource, RssFeedSource
from pipelines.ingestion.simulated import SimulatedSource
from pipelines.ingestion.worldbank import WorldBankSource

CONNECTORS: Mapping[str, type[Connector]] = MappingProxyType(
    {
        SimulatedSource.name: SimulatedSource,
        CoinGeckoSource.name: CoinGeckoSource,
        DefiLlamaSource.name: DefiLlamaSource,
        FredSource.name: FredSource,
        WorldBankSource.name: WorldBankSource,
        NewsApiSource.name: NewsApiSource,
        RssFeedSource.name: RssFeedSource,
    }
)


def known_sources() -> list[str]:
    """Registered source names, sorted."""
    return sorted(CONNECTORS)


def get_connector(name: str, settings: Settings, assets: Sequence[Asset]) -> Connector:
    """The connector for source ``name`` as ``settings`` configure it.

    Raises ConfigurationError for an unknown name (listing the known ones) or a missing setting.
    """
    connector = CONNECTORS.get(name)
    if connector is None:
        raise ConfigurationError(
            f"unknown source {name!r}; known sources: {', '.join(known_sources())}"
        )
    return connector.from_settings(settings, assets)
