"""The source registry: every source once, its connector factory and its parsers per dataset."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.contracts.envelope import DATASETS
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings
from pipelines.ingestion.registry import (
    BY_NAME,
    SOURCES,
    dataset_parsers,
    get_connector,
    ignored_endpoints,
    known_sources,
)
from pipelines.reference import load_assets


def test_every_source_is_listed_once_under_its_connector_name() -> None:
    assert known_sources() == sorted(
        ["simulated", "coingecko", "defillama", "evm", "fred", "worldbank", "newsapi", "news"]
    )
    assert len(SOURCES) == len(BY_NAME)


def test_parsers_per_dataset_come_in_source_order() -> None:
    assets = load_assets()
    kinds = {
        dataset: [(type(p).__name__, p.source) for p in dataset_parsers(dataset, assets)]
        for dataset in DATASETS
    }
    assert kinds == {
        "prices": [("CoinApiBars", "simulated"), ("CoinGeckoOhlc", "coingecko")],
        "onchain": [
            ("SimulatedDailyMetrics", "simulated"),
            ("DefiLlamaProtocolTvl", "defillama"),
            ("DefiLlamaStablecoinChart", "defillama"),
            ("DefiLlamaStablecoinListing", "defillama"),
        ],
        "economic": [
            ("FredObservations", "simulated"),
            ("FredObservations", "fred"),
            ("WorldBankIndicator", "worldbank"),
        ],
        "news": [
            ("NewsApiArticles", "simulated"),
            ("NewsApiArticles", "newsapi"),
            ("FeedItems", "news"),
        ],
        "transfers": [("TransferLogs", "simulated"), ("TransferLogs", "evm")],
    }


def test_every_parser_and_ignored_endpoint_belongs_to_a_listed_source() -> None:
    for dataset in DATASETS:
        for parser in dataset_parsers(dataset, load_assets()):
            assert parser.source in BY_NAME
        for ignored in ignored_endpoints(dataset):
            assert ignored.source in BY_NAME
    assert [i.endpoint for i in ignored_endpoints("prices")] == [
        "/coins/{id}/market_chart/range",
        "/coins/markets",
    ]
    assert [i.endpoint for i in ignored_endpoints("onchain")] == ["/stablecoinprices"]


def test_connectors_take_only_their_settings_section() -> None:
    settings = Settings(sim_days=1, sim_end="2024-01-02")
    simulated = get_connector("simulated", settings.sources, settings.simulation, load_assets())
    assert simulated.name == "simulated"
    worldbank = get_connector("worldbank", settings.sources, settings.simulation, load_assets())
    assert worldbank.name == "worldbank"
    with pytest.raises(ConfigurationError, match="unknown source 'nope'; known sources: "):
        get_connector("nope", settings.sources, settings.simulation, [])


def test_the_sources_never_import_silver() -> None:
    """Silver imports ingestion (for the parsers), never the reverse."""
    code = (
        "import sys, pipelines.ingestion.registry; "
        "print(sorted(m for m in sys.modules if m.startswith('pipelines.silver')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
