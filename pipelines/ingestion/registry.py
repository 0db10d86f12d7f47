"""Every source, listed once: how its connector is built and which parsers read its payloads.

A :class:`SourceEntry` pairs a source's connector factory with its payload parsers per silver
dataset (and the endpoints it lands that hold no records of that dataset). ``rwa ingest`` builds
connectors from here (:func:`get_connector`); the silver dataset specs take their parsers from
here (:func:`dataset_parsers`, :func:`ignored_endpoints`). Adding a source is one package under
:mod:`pipelines.ingestion` plus one entry below.

Parsers are listed in source order, the simulated source first: a dataset's parsers come out in
that order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from pipelines.contracts.envelope import Dataset
from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import SimulationSettings, SourceSettings
from pipelines.ingestion import (
    coingecko,
    defillama,
    evm,
    fred,
    news,
    newsapi,
    simulated,
    worldbank,
)
from pipelines.ingestion.base import Connector
from pipelines.ingestion.http import HttpConnector
from pipelines.ingestion.payloads import IgnoredEndpoint, PayloadParser

#: Builds a connector from the settings sections (each source reads only its own) and assets.
ConnectorFactory = Callable[[SourceSettings, SimulationSettings, Sequence[Asset]], Connector]
#: The parsers of one source for one dataset, over the reference assets.
ParserFactory = Callable[[Sequence[Asset]], tuple[PayloadParser, ...]]


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One source: its connector factory, its parsers and its ignored endpoints per dataset."""

    name: str
    connect: ConnectorFactory
    parsers: Mapping[Dataset, ParserFactory] = field(default_factory=dict)
    ignored: Mapping[Dataset, tuple[IgnoredEndpoint, ...]] = field(default_factory=dict)


def _http(connector: type[HttpConnector]) -> ConnectorFactory:
    """The factory of a real source: it takes ``RWA_*`` source settings only."""
    return lambda sources, _simulation, assets: connector.from_settings(sources, assets)


def _simulated(
    _sources: SourceSettings, simulation: SimulationSettings, assets: Sequence[Asset]
) -> Connector:
    return simulated.SimulatedSource.from_settings(simulation, assets)


SOURCES: tuple[SourceEntry, ...] = (
    SourceEntry(
        simulated.SIMULATED,
        _simulated,
        parsers={
            "prices": lambda assets: (simulated.CoinApiBars(assets),),
            "onchain": lambda assets: (simulated.SimulatedDailyMetrics(assets),),
            # The simulated source imitates FRED and NewsAPI: their parsers read it.
            "economic": lambda _assets: (fred.FredObservations(simulated.SIMULATED),),
            "news": lambda assets: (newsapi.NewsApiArticles(simulated.SIMULATED, assets),),
            # ... and the EVM connector's Transfer log pages.
            "transfers": lambda assets: (evm.TransferLogs(simulated.SIMULATED, assets),),
        },
    ),
    SourceEntry(
        coingecko.CoinGeckoSource.name,
        _http(coingecko.CoinGeckoSource),
        parsers={"prices": lambda assets: (coingecko.CoinGeckoOhlc(assets),)},
        ignored={"prices": coingecko.IGNORED},
    ),
    SourceEntry(
        defillama.DefiLlamaSource.name,
        _http(defillama.DefiLlamaSource),
        parsers={
            "onchain": lambda assets: (
                defillama.DefiLlamaProtocolTvl(assets),
                defillama.DefiLlamaStablecoinChart(assets),
                defillama.DefiLlamaStablecoinListing(assets),
            )
        },
        ignored={"onchain": defillama.IGNORED},
    ),
    SourceEntry(
        evm.EVM,
        lambda sources, _simulation, assets: evm.EvmSource.from_settings(sources, assets),
        parsers={"transfers": lambda assets: (evm.TransferLogs(evm.EVM, assets),)},
    ),
    SourceEntry(
        fred.FredSource.name,
        _http(fred.FredSource),
        parsers={"economic": lambda _assets: (fred.FredObservations(fred.FredSource.name),)},
    ),
    SourceEntry(
        worldbank.WorldBankSource.name,
        _http(worldbank.WorldBankSource),
        parsers={"economic": lambda _assets: (worldbank.WorldBankIndicator(),)},
    ),
    SourceEntry(
        newsapi.NewsApiSource.name,
        _http(newsapi.NewsApiSource),
        parsers={
            "news": lambda assets: (newsapi.NewsApiArticles(newsapi.NewsApiSource.name, assets),)
        },
    ),
    SourceEntry(
        news.RssFeedSource.name,
        _http(news.RssFeedSource),
        parsers={"news": lambda assets: (news.FeedItems(news.RssFeedSource.name, assets),)},
    ),
)
#: Source name -> its entry.
BY_NAME: Mapping[str, SourceEntry] = MappingProxyType({entry.name: entry for entry in SOURCES})


def known_sources() -> list[str]:
    """Registered source names, sorted."""
    return sorted(BY_NAME)


def get_connector(
    name: str,
    sources: SourceSettings,
    simulation: SimulationSettings,
    assets: Sequence[Asset],
) -> Connector:
    """The connector for source ``name``, configured by its settings section.

    Raises ConfigurationError for an unknown name (listing the known ones) or a missing setting.
    """
    entry = BY_NAME.get(name)
    if entry is None:
        raise ConfigurationError(
            f"unknown source {name!r}; known sources: {', '.join(known_sources())}"
        )
    return entry.connect(sources, simulation, assets)


def dataset_parsers(dataset: Dataset, assets: Sequence[Asset]) -> tuple[PayloadParser, ...]:
    """Every source's parsers of ``dataset``, in source order."""
    return tuple(
        parser
        for entry in SOURCES
        if dataset in entry.parsers
        for parser in entry.parsers[dataset](assets)
    )


def ignored_endpoints(dataset: Dataset) -> tuple[IgnoredEndpoint, ...]:
    """The endpoints that land in ``dataset``'s bronze but hold none of its records."""
    return tuple(ignored for entry in SOURCES for ignored in entry.ignored.get(dataset, ()))
