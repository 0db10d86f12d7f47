"""``/portfolios/{id}/valuation``, ``/pnl`` and ``/allocation``: what one of the signed-in
user's portfolios is worth at the latest served prices, its P&L day by day, and how its value
splits by asset, class, network and issuer.

Read access (``read:data``) to one's own portfolios only: another user's answers 404, like one
that never existed. Each answer replays the portfolio's transactions (the ledger) and reads
the served prices (:mod:`api.portfolios.valuation`, :mod:`api.portfolios.history`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import STORE_UNAVAILABLE, DbSession, StoreDep
from api.portfolios import service
from api.portfolios.history import COLUMNS, pnl_series
from api.portfolios.ledger import CostMethod
from api.portfolios.tables import Portfolio
from api.portfolios.valuation import Grouping, Position, Slice, Valuation, value
from api.portfolios.valuation_schemas import (
    AllocationOut,
    PnlDayOut,
    PnlOut,
    PositionOut,
    SliceOut,
    ValuationOut,
)
from api.routes.portfolios import NOT_FOUND, PortfolioId, Reader

router = APIRouter(
    prefix="/portfolios", tags=["portfolios"], responses=NOT_FOUND | STORE_UNAVAILABLE
)

Day = Annotated[
    dt.date | None,
    Query(description="A UTC day (YYYY-MM-DD), inclusive; start after end: no days."),
]


def _valued(
    portfolio_id: PortfolioId, session: DbSession, user: Reader, store: StoreDep
) -> tuple[Portfolio, Valuation]:
    """The caller's portfolio (404 if not theirs) valued by its cost method."""
    portfolio = service.owned(session, user.id, portfolio_id)
    method = CostMethod(portfolio.cost_method)
    return portfolio, value(store, service.ledger_of(session, portfolio), method)


Valued = Annotated[tuple[Portfolio, Valuation], Depends(_valued)]


@router.get(
    "/{portfolio_id}/valuation",
    response_model=ValuationOut,
    summary="Value, unrealized and realized P&L at the latest served prices",
)
def valuation(valued: Valued) -> ValuationOut:
    """Each held asset at its latest daily close, or at its NAV where the served on-chain data
    carries a recent one (``price_source`` says which, ``price_at`` of when). A held asset
    without a price is listed in ``unpriced`` and left out of every total (``complete`` is
    false), never valued at 0."""
    portfolio, found = valued
    return ValuationOut(
        portfolio_id=portfolio.id,
        cost_method=found.cost_method,
        currency=portfolio.currency,
        as_of=found.as_of,
        market_value=found.market_value,
        cost_basis=found.cost_basis,
        unrealized_pnl=found.unrealized_pnl,
        realized_pnl=found.realized_pnl,
        total_pnl=found.total_pnl,
        invested=found.invested,
        fees=found.fees,
        total_return=found.total_return,
        complete=found.complete,
        unpriced=list(found.unpriced),
        positions=[_position(p) for p in found.positions],
    )


def _position(position: Position) -> PositionOut:
    price = position.price
    return PositionOut(
        asset_id=position.asset_id,
        symbol=position.symbol,
        name=position.name,
        asset_class=position.asset_class,
        network=position.network,
        issuer=position.issuer,
        quantity=position.quantity,
        cost_basis=position.cost_basis,
        average_cost=position.average_cost,
        realized_pnl=position.realized_pnl,
        fees=position.fees,
        price=None if price is None else price.value,
        price_source=None if price is None else price.source,
        price_at=None if price is None else price.at,
        market_value=position.market_value,
        unrealized_pnl=position.unrealized_pnl,
        weight=position.weight,
    )


@router.get(
    "/{portfolio_id}/allocation",
    response_model=AllocationOut,
    summary="Value by asset, asset class, network and issuer",
)
def allocation(valued: Valued) -> AllocationOut:
    """The priced positions' market value grouped four ways, largest first; weights are
    shares of the priced total (unpriced assets are listed apart)."""
    portfolio, found = valued

    def slices(grouping: Grouping) -> list[SliceOut]:
        return [_slice(s) for s in found.allocation[grouping]]

    return AllocationOut(
        portfolio_id=portfolio.id,
        as_of=found.as_of,
        market_value=found.market_value,
        unpriced=list(found.unpriced),
        by_asset=slices("asset"),
        by_asset_class=slices("asset_class"),
        by_network=slices("network"),
        by_issuer=slices("issuer"),
    )


def _slice(part: Slice) -> SliceOut:
    return SliceOut(
        key=part.key, market_value=part.market_value, weight=part.weight, assets=list(part.assets)
    )


@router.get(
    "/{portfolio_id}/pnl",
    response_model=PnlOut,
    summary="Value and P&L day by day",
)
def pnl(
    portfolio_id: PortfolioId,
    session: DbSession,
    user: Reader,
    store: StoreDep,
    start: Day = None,
    end: Day = None,
) -> PnlOut:
    """One row per UTC day from the first transaction to the latest served day (within
    ``start``..``end``): the positions after that day's trades at that day's close or NAV,
    realized P&L and money invested so far. Numbers, not strings: a chart series within float
    rounding of ``/valuation``'s exact figures."""
    portfolio = service.owned(session, user.id, portfolio_id)
    ledger = service.ledger_of(session, portfolio)
    series = pnl_series(store, ledger, start, end)
    days = [
        PnlDayOut(day=day.date(), **{c: row[c] for c in COLUMNS})
        for day, row in zip(series.index, series.to_dict("records"), strict=True)
    ]
    return PnlOut(
        portfolio_id=portfolio.id,
        cost_method=CostMethod(portfolio.cost_method),
        currency=portfolio.currency,
        start=start,
        end=end,
        count=len(days),
        days=days,
    )
