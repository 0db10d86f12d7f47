"""Response schemas of a portfolio's valuation, allocation and daily P&L
(``api/routes/portfolio_values.py``).

Money of the valuation and the allocation is exact: JSON strings (``ExactOut``, as every
portfolio answer). The daily P&L series is a chart series: JSON numbers (float64), within
float rounding of the exact figures (docs/api.md, "Portfolios").
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from api.portfolios.ledger import CostMethod
from api.portfolios.schemas import ExactOut
from api.portfolios.valuation import PriceSource


class PositionOut(BaseModel):
    """One held asset at its latest served price."""

    asset_id: str
    symbol: str | None
    name: str | None
    asset_class: str = Field(description="From the asset reference; 'unknown' if not there.")
    network: str = Field(description="Primary chain (blockchain_network); 'unknown' if none.")
    issuer: str = Field(description="issuer_name; 'unknown' if none.")
    quantity: ExactOut
    cost_basis: ExactOut = Field(description="Cost of the units held, fees included.")
    average_cost: ExactOut | None
    realized_pnl: ExactOut
    fees: ExactOut
    price: ExactOut | None = Field(description="Per unit; null: unpriced.")
    price_source: PriceSource | None = Field(
        description="'nav': the fund's NAV from the on-chain data; 'close': the latest daily "
        "close; null: unpriced."
    )
    price_at: dt.datetime | None = Field(description="Start (UTC) of the price's day.")
    market_value: ExactOut | None = Field(description="quantity x price; null: unpriced.")
    unrealized_pnl: ExactOut | None = Field(description="market_value - cost_basis.")
    weight: float | None = Field(description="Share of the priced market value.")


class ValuationOut(BaseModel):
    portfolio_id: int
    cost_method: CostMethod
    currency: str
    as_of: dt.datetime | None = Field(description="The newest price's day; null: none priced.")
    market_value: ExactOut = Field(description="Of the priced positions.")
    cost_basis: ExactOut = Field(description="Of every held position, priced or not.")
    unrealized_pnl: ExactOut = Field(description="Of the priced positions.")
    realized_pnl: ExactOut = Field(description="Of every trade (the cost method's split).")
    total_pnl: ExactOut = Field(description="realized + unrealized: the same for both methods.")
    invested: ExactOut = Field(description="Buys with fees and transfers in at their cost.")
    fees: ExactOut
    total_return: float | None = Field(description="total_pnl / invested; null: none invested.")
    complete: bool = Field(description="False when some held asset is unpriced.")
    unpriced: list[str] = Field(description="Held assets without a price, left out of totals.")
    positions: list[PositionOut] = Field(description="Held assets, by asset id.")


class SliceOut(BaseModel):
    key: str
    market_value: ExactOut
    weight: float
    assets: list[str]


class AllocationOut(BaseModel):
    portfolio_id: int
    as_of: dt.datetime | None
    market_value: ExactOut = Field(description="Of the priced positions: what weights share.")
    unpriced: list[str] = Field(description="Held assets left out (no price).")
    by_asset: list[SliceOut]
    by_asset_class: list[SliceOut]
    by_network: list[SliceOut]
    by_issuer: list[SliceOut]


class PnlDayOut(BaseModel):
    """One day at its close (float64: a chart series)."""

    day: dt.date
    market_value: float
    cost_basis: float
    unrealized_pnl: float
    realized_pnl: float = Field(description="Cumulative up to the day.")
    total_pnl: float
    invested: float = Field(description="Cumulative up to the day.")
    unpriced: int = Field(ge=0, description="Held assets without a price that day.")


class PnlOut(BaseModel):
    portfolio_id: int
    cost_method: CostMethod
    currency: str
    start: dt.date | None
    end: dt.date | None
    count: int
    days: list[PnlDayOut]
