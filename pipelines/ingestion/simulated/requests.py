"""What the simulated source is asked: its name, the endpoints it imitates, its requests.

Prices imitate CoinAPI and on-chain metrics a daily token-metrics API, which have no real
connector here; macro series and news reuse the real FRED and NewsAPI endpoints. Price requests
name the asset by a CoinAPI-style symbol id, ``SIM_SPOT_{BASE}_USD`` (see docs/simulator.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from pipelines.contracts.reference import Asset
from pipelines.core.errors import DataContractError
from pipelines.ingestion.base import FetchWindow, SourceRequest, require_utc
from pipelines.ingestion.evm.logs import LOGS_ENDPOINT, quantity
from pipelines.ingestion.fred.connector import OBSERVATIONS_ENDPOINT
from pipelines.ingestion.newsapi.connector import EVERYTHING_ENDPOINT
from pipelines.ingestion.simulated.grid import DAY, iso_z

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


def price_request(asset: Asset, frequency: Frequency, part: FetchWindow) -> SourceRequest:
    """CoinAPI OHLCV history of ``asset`` over ``part`` (at most a day)."""
    return SourceRequest(
        "prices",
        PRICES_ENDPOINT,
        {
            "symbol_id": coinapi_symbol_id(asset),
            "period_id": COINAPI_PERIODS[frequency],
            "time_start": iso_z(part.start),
            "time_end": iso_z(part.end),
        },
    )


def onchain_request(asset: Asset, part: FetchWindow) -> SourceRequest:
    """The daily token metrics of ``asset`` for the UTC day ``part`` starts in."""
    day = part.start.date()
    return SourceRequest(
        "onchain",
        ONCHAIN_ENDPOINT,
        {
            "asset": asset.asset_id,
            "blockchain": asset.blockchain_network,
            "startDate": day.isoformat(),
            "endDate": (day + DAY).isoformat(),
            "timeInterval": "days",
        },
    )


def transfers_request(asset: Asset, first_block: int, last_block: int) -> SourceRequest:
    """The Transfer logs of ``asset``'s contract in blocks ``[first_block, last_block]``, asked
    like the EVM connector asks ``eth_getLogs``."""
    return SourceRequest(
        "transfers",
        LOGS_ENDPOINT,
        {
            "chain": asset.blockchain_network,
            "address": [(asset.contract_address or "").lower()],
            "fromBlock": quantity(first_block),
            "toBlock": quantity(last_block),
        },
    )


def fred_request(series_id: str, span: FetchWindow) -> SourceRequest:
    """FRED observations of ``series_id`` over the days ``span`` touches."""
    return SourceRequest(
        "economic",
        FRED_ENDPOINT,
        {
            "series_id": series_id,
            "observation_start": span.start.date().isoformat(),
            "observation_end": (span.end - dt.timedelta(microseconds=1)).date().isoformat(),
            "file_type": "json",
        },
    )


def news_request(assets: Sequence[Asset], part: FetchWindow) -> SourceRequest:
    """NewsAPI search for the tickers of ``assets`` over ``part``."""
    return SourceRequest(
        "news",
        NEWS_ENDPOINT,
        {
            "q": " OR ".join(sorted(a.symbol for a in assets)),
            "from": iso_z(part.start),
            "to": iso_z(part.end),
            "language": "en",
            "sortBy": "publishedAt",
            "pageSize": 100,
            "page": 1,
        },
    )


def instant_param(params: dict[str, Any], key: str) -> dt.datetime:
    """A request's time parameter; DataContractError when it is not a UTC ISO-8601 time."""
    try:
        return require_utc(dt.datetime.fromisoformat(str(params[key])), key)
    except (KeyError, ValueError) as exc:
        raise DataContractError(f"request param {key!r} is not a UTC ISO-8601 time: {exc}") from exc


def date_param(params: dict[str, Any], key: str) -> dt.date:
    """A request's date parameter; DataContractError when it is not an ISO date."""
    try:
        return dt.date.fromisoformat(str(params[key]))
    except (KeyError, ValueError) as exc:
        raise DataContractError(f"request param {key!r} is not an ISO date: {exc}") from exc
