"""Simulation parameters per asset class and per asset (not reference facts).

Class defaults are in :data:`CLASS_PRICE_PARAMS` / :data:`CLASS_ONCHAIN_PARAMS`; per-asset
overrides in :data:`ASSET_PRICE_PARAMS` / :data:`ASSET_ONCHAIN_PARAMS`, looked up by
``asset_id``, then by lower-case symbol. What each model does with them: docs/simulator.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pipelines.contracts.reference import Asset, AssetClass

PriceModel = Literal[
    "accruing_nav", "stable_nav", "private_credit", "stablecoin", "crypto", "gold", "real_estate"
]
#: Models of funds whose token has a NAV (reported on-chain as ``nav_usd``).
NAV_MODELS: frozenset[PriceModel] = frozenset({"accruing_nav", "stable_nav", "private_credit"})

_Params = TypeVar("_Params", "PriceParams", "OnchainParams")


@dataclass(frozen=True, slots=True)
class PriceParams:
    """How one asset's price and volume are simulated. Rates are per year, vols annualised."""

    model: PriceModel
    start_price: float
    annual_yield: float = 0.0
    annual_vol: float = 0.0
    noise_bps: float = 0.0
    #: Jumps (crypto), de-pegs (stablecoin), markdowns (private credit), re-pricings (real estate).
    event_rate: float = 0.0
    daily_volume_usd: float = 1e6
    avg_trade_usd: float = 5_000.0
    #: Trade arrivals per hour for thinly traded assets; None means every bar trades.
    trades_per_hour: float | None = None


@dataclass(frozen=True, slots=True)
class OnchainParams:
    """Levels and growth of one asset's daily on-chain metrics."""

    holders: float
    total_supply: float
    holder_growth: float = 0.1  # per year
    supply_growth: float = 0.0  # per year, net issuance (yield paid in tokens comes on top)
    supply_noise: float = 0.0  # daily sd of net flows, as a fraction of supply
    transfers_per_day: float = 100.0
    turnover: float = 0.01  # transfer volume / market cap, per day
    dex_liquidity_usd: float = 1e6


CLASS_PRICE_PARAMS: dict[AssetClass, PriceParams] = {
    "tokenized_treasury": PriceParams(
        model="accruing_nav", start_price=1.0, annual_yield=0.0475, noise_bps=2.0,
        daily_volume_usd=2e6, avg_trade_usd=50_000.0,
    ),
    "money_market_fund": PriceParams(
        model="stable_nav", start_price=1.0, annual_yield=0.047, noise_bps=1.0,
        daily_volume_usd=2e6, avg_trade_usd=100_000.0,
    ),
    "private_credit": PriceParams(
        model="private_credit", start_price=1.0, annual_yield=0.10, noise_bps=5.0, event_rate=0.5,
        daily_volume_usd=5e5, avg_trade_usd=25_000.0,
    ),
    "stablecoin": PriceParams(
        model="stablecoin", start_price=1.0, noise_bps=3.0, event_rate=1.0,
        daily_volume_usd=1e9, avg_trade_usd=20_000.0,
    ),
    "crypto": PriceParams(
        model="crypto", start_price=100.0, annual_vol=0.65, event_rate=12.0,
        daily_volume_usd=1e8, avg_trade_usd=2_000.0,
    ),
    "tokenized_gold": PriceParams(
        model="gold", start_price=2300.0, annual_vol=0.15,
        daily_volume_usd=1e7, avg_trade_usd=10_000.0,
    ),
    "real_estate": PriceParams(
        model="real_estate", start_price=50.0, annual_vol=0.08, event_rate=2.0,
        avg_trade_usd=500.0, trades_per_hour=0.1,
    ),
}  # fmt: skip


def _price_like(asset_class: AssetClass, **changes: Any) -> PriceParams:
    """The class default of ``asset_class`` with ``changes``: an asset's own price model."""
    return dataclasses.replace(CLASS_PRICE_PARAMS[asset_class], **changes)


#: Per-asset overrides, keyed by asset_id or lower-case symbol.
ASSET_PRICE_PARAMS: dict[str, PriceParams] = {
    "btc": _price_like("crypto", start_price=60_000.0, annual_vol=0.55, daily_volume_usd=2.5e10),
    "eth": _price_like("crypto", start_price=3_000.0, annual_vol=0.70, daily_volume_usd=1.2e10),
    "paxg": _price_like("tokenized_gold", daily_volume_usd=2.5e7),
    "xaut": _price_like("tokenized_gold", daily_volume_usd=1.5e7),
    "usdc": _price_like("stablecoin", daily_volume_usd=6e9),
    "usdt": _price_like("stablecoin", daily_volume_usd=3e10),
    "dai": _price_like("stablecoin", daily_volume_usd=2e8),
    "buidl": _price_like("money_market_fund", annual_yield=0.0485),
    "benji": _price_like("money_market_fund", annual_yield=0.047),
    "ousg": _price_like("tokenized_treasury", start_price=105.0, annual_yield=0.047),
    "usdy": _price_like("tokenized_treasury", start_price=1.04, annual_yield=0.0465),
    "ustb": _price_like("tokenized_treasury", start_price=10.3, annual_yield=0.0485),
    "tbill": _price_like("tokenized_treasury", start_price=1.02, annual_yield=0.047),
    "usyc": _price_like("tokenized_treasury", start_price=1.05, annual_yield=0.048),
    "bib01": _price_like("tokenized_treasury", start_price=110.0, annual_yield=0.05),
    "jtrsy": _price_like("tokenized_treasury", start_price=1.02, annual_yield=0.047),
    # A AAA CLO fund accrues less than direct lending pools.
    "jaaa": _price_like("private_credit", start_price=1.0, annual_yield=0.065, event_rate=0.2),
    "syrupusdc": _price_like("private_credit", start_price=1.10, annual_yield=0.11),
    "syrupusdt": _price_like("private_credit", start_price=1.05, annual_yield=0.10),
    "fidu": _price_like("private_credit", start_price=1.05, annual_yield=0.08, event_rate=1.0),
    # A synthetic dollar: noisier peg, de-pegs more often.
    "usde": _price_like("stablecoin", noise_bps=6.0, event_rate=2.0, daily_volume_usd=3e8),
}  # fmt: skip

CLASS_ONCHAIN_PARAMS: dict[AssetClass, OnchainParams] = {
    "tokenized_treasury": OnchainParams(
        holders=500, total_supply=5e7, holder_growth=0.5, supply_growth=0.8,
        supply_noise=0.01, transfers_per_day=40, turnover=0.01, dex_liquidity_usd=2e6,
    ),
    "money_market_fund": OnchainParams(
        holders=300, total_supply=3e8, holder_growth=0.4, supply_growth=0.6,
        supply_noise=0.01, transfers_per_day=20, turnover=0.005, dex_liquidity_usd=5e5,
    ),
    "private_credit": OnchainParams(
        holders=400, total_supply=2e7, holder_growth=0.3, supply_growth=0.3,
        supply_noise=0.01, transfers_per_day=15, turnover=0.004, dex_liquidity_usd=1e6,
    ),
    "stablecoin": OnchainParams(
        holders=2e6, total_supply=3e10, holder_growth=0.1, supply_growth=0.05,
        supply_noise=0.003, transfers_per_day=300_000, turnover=0.2, dex_liquidity_usd=3e8,
    ),
    "crypto": OnchainParams(
        holders=1e6, total_supply=1e9, holder_growth=0.05, supply_growth=0.0,
        supply_noise=0.0, transfers_per_day=100_000, turnover=0.05, dex_liquidity_usd=1e8,
    ),
    "tokenized_gold": OnchainParams(
        holders=60_000, total_supply=250_000, holder_growth=0.1, supply_growth=0.2,
        supply_noise=0.003, transfers_per_day=1_500, turnover=0.03, dex_liquidity_usd=2e7,
    ),
    "real_estate": OnchainParams(
        holders=200, total_supply=1_500, holder_growth=0.05, supply_growth=0.0,
        supply_noise=0.0, transfers_per_day=3, turnover=0.002, dex_liquidity_usd=2e4,
    ),
}  # fmt: skip


def _onchain_like(asset_class: AssetClass, **changes: Any) -> OnchainParams:
    """The class default of ``asset_class`` with ``changes``: an asset's own on-chain levels."""
    return dataclasses.replace(CLASS_ONCHAIN_PARAMS[asset_class], **changes)


#: Per-asset overrides, keyed by asset_id or lower-case symbol.
ASSET_ONCHAIN_PARAMS: dict[str, OnchainParams] = {
    "btc": _onchain_like("crypto", holders=5.3e7, total_supply=1.96e7, supply_growth=0.0085,
                         transfers_per_day=500_000),
    "eth": _onchain_like("crypto", holders=1.2e8, total_supply=1.2e8, transfers_per_day=1_200_000),
    "usdc": _onchain_like("stablecoin", holders=3e6, total_supply=2.5e10),
    "usdt": _onchain_like("stablecoin", holders=6e6, total_supply=9.5e10),
    "dai": _onchain_like("stablecoin", holders=5e5, total_supply=5e9),
    "buidl": _onchain_like("money_market_fund", holders=60, total_supply=5e8),
    "benji": _onchain_like("money_market_fund", holders=500, total_supply=3.6e8),
    "ousg": _onchain_like("tokenized_treasury", holders=150, total_supply=1.3e6),
    "usdy": _onchain_like("tokenized_treasury", holders=5_000, total_supply=1.5e8),
    "ustb": _onchain_like("tokenized_treasury", holders=100, total_supply=1.5e7),
    "tbill": _onchain_like("tokenized_treasury", holders=50, total_supply=2e7),
    "xaut": _onchain_like("tokenized_gold", holders=5_000, total_supply=246_000),
}  # fmt: skip


def price_params(asset: Asset) -> PriceParams:
    """The price model of ``asset``: its own override, else its class default."""
    return _own(ASSET_PRICE_PARAMS, asset) or CLASS_PRICE_PARAMS[asset.asset_class]


def onchain_params(asset: Asset) -> OnchainParams:
    """The on-chain levels of ``asset``: its own override, else its class default."""
    return _own(ASSET_ONCHAIN_PARAMS, asset) or CLASS_ONCHAIN_PARAMS[asset.asset_class]


def _own(table: dict[str, _Params], asset: Asset) -> _Params | None:
    return table.get(asset.asset_id) or table.get(asset.symbol.lower())
