"""What the simulated source is asked: its name, the endpoints it imitates and its symbol ids.

Prices imitate CoinAPI and on-chain metrics a daily token-metrics API, which have no real
connector here; macro series and news reuse the real FRED and NewsAPI endpoints. Price requests
name the asset by a CoinAPI-style symbol id, ``SIM_SPOT_{BASE}_USD`` (see docs/simulator.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pipelines.contracts.reference import Asset
from pipelines.ingestion.fred.connector import OBSERVATIONS_ENDPOINT
from pipelines.ingestion.newsapi.connector import EVERYTHING_ENDPOINT

#: The simulated source's registry name, also its envelopes' ``source``.
SIMULATED = "simulated"

PRICES_ENDPOINT = "/v1/ohlcv/{symbol_id}/history"
ONCHAIN_ENDPOINT = "/v2/tokens/{asset}/metrics/daily"
FRED_ENDPOINT = OBSERVATIONS_ENDPOINT
NEWS_ENDPOINT = EVERYTHING_ENDPOINT

Frequency = Literal["1m", "5m", "15m", "1h"]
FREQUENCY_MINUTES: dict[Frequency, int] = {"1m": 1, "5m": 5, "15m": 15, "1h": 60}
#: CoinAPI ``period_id`` per frequency.
COINAPI_PERIODS: dict[Frequency, str] = {"1m": "1MIN", "5m": "5MIN", "15m": "15MIN", "1h": "1HRS"}


def coinapi_base(asset: Asset) -> str:
    """The asset's code in CoinAPI symbol ids: its ticker upper-cased, alphanumerics only."""
    return "".join(ch for ch in asset.symbol.upper() if ch.isalnum())


def coinapi_symbol_id(asset: Asset) -> str:
    """CoinAPI-style ``EXCHANGE_SPOT_BASE_QUOTE`` id, e.g. ``SIM_SPOT_BTC_USD``."""
    return f"SIM_SPOT_{coinapi_base(asset)}_USD"


def coinapi_bases(assets: Sequence[Asset]) -> dict[str, str]:
    """Base code -> asset_id, to resolve the assets of price envelopes (silver's symbol map)."""
    return {coinapi_base(asset): asset.asset_id for asset in assets}
