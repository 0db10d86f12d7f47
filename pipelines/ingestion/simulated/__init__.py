"""The simulated source: a deterministic stand-in for the real sources (docs/simulator.md).

Its connector (:mod:`.source`), what it is asked (:mod:`.requests`), the models behind its
answers (:mod:`.params`, :mod:`.prices`, :mod:`.bars`, :mod:`.faults`, :mod:`.onchain`,
:mod:`.macro`, :mod:`.news`, built on :mod:`.streams`, :mod:`.stochastic` and :mod:`.grid`) and
the parsers of the payloads only it sends (:mod:`.parsers`).
"""

from pipelines.ingestion.simulated.bars import SimEvent
from pipelines.ingestion.simulated.faults import (
    ACCEPTED_FAULTS,
    FAULT_KINDS,
    QUARANTINE_FAULTS,
    FaultKind,
)
from pipelines.ingestion.simulated.macro import us_bond_market_holidays
from pipelines.ingestion.simulated.news import EVENT_TEMPLATES, NEWS_TEMPLATES
from pipelines.ingestion.simulated.params import onchain_params, price_params
from pipelines.ingestion.simulated.parsers import CoinApiBars, SimulatedDailyMetrics
from pipelines.ingestion.simulated.requests import (
    ONCHAIN_ENDPOINT,
    PRICES_ENDPOINT,
    SIMULATED,
    Frequency,
    coinapi_bases,
    coinapi_symbol_id,
)
from pipelines.ingestion.simulated.source import SimulatedSource

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
    "FaultKind",
    "Frequency",
    "SimEvent",
    "SimulatedDailyMetrics",
    "SimulatedSource",
    "coinapi_bases",
    "coinapi_symbol_id",
    "onchain_params",
    "price_params",
    "us_bond_market_holidays",
]
