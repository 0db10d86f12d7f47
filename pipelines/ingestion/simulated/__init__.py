"""The simulated source: a deterministic stand-in for the real sources (docs/simulator.md).

Its connector (:class:`SimulatedSource`), what it is asked (:mod:`.requests`) and the parsers of
the payloads only it sends (:mod:`.parsers`).
"""

from pipelines.ingestion.simulated.parsers import CoinApiBars, SimulatedDailyMetrics
from pipelines.ingestion.simulated.requests import (
    ONCHAIN_ENDPOINT,
    PRICES_ENDPOINT,
    SIMULATED,
    coinapi_bases,
    coinapi_symbol_id,
)
from pipelines.ingestion.simulated.source import (
    ACCEPTED_FAULTS,
    EVENT_TEMPLATES,
    FAULT_KINDS,
    NEWS_TEMPLATES,
    QUARANTINE_FAULTS,
    SimEvent,
    SimulatedSource,
    price_params,
    us_bond_market_holidays,
)

__all__ = [
    "ACCEPTED_FAULTS",
    "EVENT_TEMPLATES",
    "FAULT_KINDS",
    "NEWS_TEMPLATES",
    "ONCHAIN_ENDPOINT",
    "PRICES_ENDPOINT",
    "QUARANTINE_FAULTS",
    "SIMULATED",
    "CoinApiBars",
    "SimEvent",
    "SimulatedDailyMetrics",
    "SimulatedSource",
    "coinapi_bases",
    "coinapi_symbol_id",
    "price_params",
    "us_bond_market_holidays",
]
