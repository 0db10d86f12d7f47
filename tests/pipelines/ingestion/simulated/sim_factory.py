"""Simulated sources and helpers shared by the simulated source's tests."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np

from pipelines.contracts.envelope import RawEnvelope
from pipelines.contracts.reference import Asset, AssetClass
from pipelines.ingestion.simulated import (
    SimulatedSource,
)

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
COINAPI_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
BAR_KEYS = {
    "time_period_start",
    "time_period_end",
    "time_open",
    "time_close",
    "price_open",
    "price_high",
    "price_low",
    "price_close",
    "volume_traded",
    "trades_count",
}
HOURS_PER_YEAR = 365 * 24


def make_asset(asset_id: str, symbol: str, asset_class: AssetClass, name: str = "") -> Asset:
    return Asset(
        asset_id=asset_id,
        symbol=symbol,
        name=name or symbol,
        asset_class=asset_class,
        blockchain_network="ethereum",
        issuer_name="Example Issuer",
    )


ASSETS = [
    make_asset("btc", "BTC", "crypto", "Bitcoin"),
    make_asset("eth", "ETH", "crypto", "Ether"),
    make_asset("usdc", "USDC", "stablecoin", "USD Coin"),
    make_asset("dai", "DAI", "stablecoin", "Dai"),
    make_asset("buidl", "BUIDL", "money_market_fund", "BlackRock USD Institutional Fund"),
    make_asset("ousg", "OUSG", "tokenized_treasury", "Ondo Short-Term US Treasuries"),
    make_asset("usdy", "USDY", "tokenized_treasury", "Ondo US Dollar Yield"),
    make_asset("paxg", "PAXG", "tokenized_gold", "Pax Gold"),
    make_asset("realt-a", "REALTA", "real_estate", "RealT Example Street"),
    make_asset("credit-a", "CREDA", "private_credit", "Example Credit Pool"),
]
BY_ID = {a.asset_id: a for a in ASSETS}


def source(
    assets: list[Asset] = ASSETS,
    *,
    days: int = 90,
    frequency: Any = "1h",
    fault_rate: float = 0.0,
    seed: int = 7,
    **kwargs: Any,
) -> SimulatedSource:
    return SimulatedSource(
        assets,
        seed=seed,
        start=START,
        end=START + dt.timedelta(days=days),
        frequency=frequency,
        fault_rate=fault_rate,
        **kwargs,
    )


def closes(bars: list[dict[str, Any]]) -> np.ndarray:
    return np.array([b["price_close"] for b in bars], dtype=float)


def log_returns(bars: list[dict[str, Any]]) -> np.ndarray:
    return np.diff(np.log(closes(bars)))


def parse_coinapi(text: str) -> dt.datetime:
    assert COINAPI_TIME.match(text), text
    return dt.datetime.fromisoformat(text[:26] + "+00:00")


def lines(envelopes: list[RawEnvelope]) -> list[str]:
    return [e.to_json_line() for e in envelopes]
