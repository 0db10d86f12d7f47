"""Daily on-chain metrics of one asset, driven by its simulated prices (docs/simulator.md).

Shaped like Amberdata's / Token Terminal's daily token metrics: holders, transfers, supply, DEX
liquidity, exchange flows and, for funds, NAV. Transfers and exchange flows rise on days with
big moves; exchange inflows on down days, outflows on up days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.ingestion.base import FetchWindow
from pipelines.ingestion.simulated.bars import Bars, price_decimals
from pipelines.ingestion.simulated.grid import DAY, BarGrid
from pipelines.ingestion.simulated.params import NAV_MODELS, OnchainParams, PriceParams
from pipelines.ingestion.simulated.stochastic import FloatArray, ornstein_uhlenbeck
from pipelines.ingestion.simulated.streams import Streams


@dataclass(frozen=True, slots=True)
class DailyView:
    """Per UTC day of the span: the day's last close, its log return and the fund's NAV."""

    days: list[dt.date]
    close: FloatArray
    log_return: FloatArray
    nav: FloatArray | None


def daily_view(grid: BarGrid, bars: Bars) -> DailyView:
    """The bars summed up per UTC day."""
    days = FetchWindow(grid.start, grid.instant(grid.count)).days()
    day_ends = [dt.datetime.combine(day + DAY, dt.time(), tzinfo=dt.UTC) for day in days]
    last = np.array([grid.index(end) - 1 for end in day_ends], dtype=np.int64)
    close = bars.close[last]
    previous = np.concatenate(([bars.open[0]], close[:-1]))
    nav = bars.nav[last] if bars.nav is not None else None
    return DailyView(days, close, np.log(close / previous), nav)


def onchain_records(
    prices: PriceParams, levels: OnchainParams, view: DailyView, streams: Streams
) -> list[dict[str, Any]]:
    """Daily metrics of the whole span, one record per day."""
    day_count = len(view.days)
    t_years = np.arange(day_count) / 365.0
    holders = levels.holders * np.exp(
        levels.holder_growth * t_years
        + np.cumsum(0.003 * streams("holders").standard_normal(day_count))
    )
    flows = np.cumsum(levels.supply_noise * streams("flows").standard_normal(day_count))
    # Stable-NAV funds pay their yield as new tokens: supply, not price, accrues.
    payout = prices.annual_yield if prices.model == "stable_nav" else 0.0
    supply = levels.total_supply * np.exp((levels.supply_growth + payout) * t_years + flows)
    activity = 1.0 + 25.0 * np.abs(view.log_return)
    turnover = levels.turnover * streams("turnover").lognormal(-0.045, 0.3, day_count) * activity
    volume = supply * view.close * turnover
    transfers = streams("transfers").poisson(levels.transfers_per_day * activity)
    depth = ornstein_uhlenbeck(streams("liquidity").standard_normal(day_count), 0.1, 30.0)
    liquidity = levels.dex_liquidity_usd * np.exp(depth)
    down, up = np.maximum(-view.log_return, 0.0), np.maximum(view.log_return, 0.0)
    # Sellers move tokens to exchanges on bad days, buyers withdraw on good ones.
    inflow = volume * streams("inflow").uniform(0.05, 0.15, day_count) * (1.0 + 10.0 * down)
    outflow = volume * streams("outflow").uniform(0.05, 0.15, day_count) * (1.0 + 10.0 * up)
    nav = view.nav if prices.model in NAV_MODELS else None
    decimals = price_decimals(prices.start_price)
    return [
        {
            "timestamp": f"{day.isoformat()}T00:00:00Z",
            "holders": round(float(holders[index])),
            "transfer_count": int(transfers[index]),
            "transfer_volume_usd": round(float(volume[index]), 2),
            "total_supply": round(float(supply[index]), 6),
            "dex_liquidity_usd": round(float(liquidity[index]), 2),
            "exchange_inflow_usd": round(float(inflow[index]), 2),
            "exchange_outflow_usd": round(float(outflow[index]), 2),
            "nav_usd": round(float(nav[index]), decimals) if nav is not None else None,
        }
        for index, day in enumerate(view.days)
    ]
