"""``portfolio_update`` events after a serving load: one per portfolio whose value the load
changed, to its owner only (``user_id``: :mod:`api.push.access` hands it to nobody else).

Which portfolios: those holding (a quantity above zero) an asset whose latest price the same
load announced (:func:`api.events.prices.publish_price_updates`). Each is valued as the API
values it (:func:`api.portfolios.valuation.value`, at the latest served close or NAV): one
read of the asset reference for all of them, a few store reads and a ledger replay each.

What was announced last is the channel's own memory, as for prices: the newest
``portfolio_update`` event of each portfolio. A portfolio whose value, unrealized and total
P&L equal the ones announced is skipped, so a replayed load publishes nothing; no state is
kept beside the events (a column on the portfolio would need a migration and would be written
by a load, in a table the routes own). Once retention pruned a portfolio's last event, its
value is announced again at the next price change.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.events.bus import EventType, publish
from api.events.tables import Event
from api.portfolios import service, valuation
from api.portfolios.ledger import CostMethod
from api.portfolios.schemas import render
from api.portfolios.tables import Portfolio, PortfolioTransaction
from pipelines.contracts.reference import Asset
from pipelines.serving.store import ServingStore

log = logging.getLogger(__name__)

#: The payload's figures compared with the last announcement (the as-of time is not: a new
#: bar at the same close changes no value).
COMPARED = ("value", "unrealized_pnl", "total_pnl")


@dataclass(frozen=True, slots=True)
class PortfolioFigures:
    """What a ``portfolio_update`` tells: a portfolio's value and P&L at the served prices."""

    portfolio_id: int
    owner: int
    currency: str
    value: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    #: The time of the newest price the value uses (None: nothing held has a price).
    as_of: dt.datetime | None
    #: The assets held (quantity above zero).
    held: frozenset[str]

    def payload(self) -> dict[str, Any]:
        """Money as decimal strings, as the portfolio routes write them (plain notation,
        rounded half-even to 18 decimals)."""
        return {
            "portfolio_id": self.portfolio_id,
            "currency": self.currency,
            "value": render(self.value),
            "unrealized_pnl": render(self.unrealized_pnl),
            "total_pnl": render(self.total_pnl),
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
        }


def figures_of(
    session: Session, store: ServingStore, portfolio: Portfolio, assets: Mapping[str, Asset]
) -> PortfolioFigures:
    """``portfolio`` valued as ``GET /portfolios/{id}/valuation`` values it (``assets``: the
    asset reference, read once for every portfolio)."""
    ledger = service.ledger_of(session, portfolio)
    valued = valuation.value(store, ledger, CostMethod(portfolio.cost_method), assets)
    return PortfolioFigures(
        portfolio_id=portfolio.id,
        owner=portfolio.user_id,
        currency=portfolio.currency,
        value=valued.market_value,
        unrealized_pnl=valued.unrealized_pnl,
        total_pnl=valued.total_pnl,
        as_of=valued.as_of,
        held=frozenset(p.asset_id for p in valued.positions),
    )


def holding_any(session: Session, asset_ids: Collection[str]) -> Sequence[Portfolio]:
    """The portfolios with a transaction in any of ``asset_ids`` (whether they still hold it
    is the valuation's to say), in id order."""
    if not asset_ids:
        return []
    traded = select(PortfolioTransaction.portfolio_id).where(
        PortfolioTransaction.asset_id.in_(sorted(asset_ids))
    )
    return session.scalars(
        select(Portfolio).where(Portfolio.id.in_(traded)).order_by(Portfolio.id)
    ).all()


def _announced(session: Session, portfolio_ids: Collection[int]) -> dict[int, Mapping[str, Any]]:
    """Per portfolio, the payload of its newest ``portfolio_update`` event."""
    if not portfolio_ids:
        return {}
    portfolio_id = Event.payload["portfolio_id"].as_integer()
    newest = (
        select(func.max(Event.id).label("id"))
        .where(Event.type == EventType.PORTFOLIO_UPDATE.value)
        .where(portfolio_id.in_(sorted(portfolio_ids)))
        .group_by(portfolio_id)
        .subquery()
    )
    rows = session.scalars(select(Event).join(newest, Event.id == newest.c.id))
    return {int(event.payload["portfolio_id"]): event.payload for event in rows}


def _unchanged(figures: PortfolioFigures, announced: Mapping[str, Any] | None) -> bool:
    if announced is None:
        return False
    now = figures.payload()
    try:
        return all(Decimal(str(announced[k])) == Decimal(now[k]) for k in COMPARED)
    except (KeyError, ArithmeticError):  # an event of an older payload: announce again
        return False


def publish_portfolio_updates(
    session: Session, store: ServingStore, changed_assets: Collection[str]
) -> list[PortfolioFigures]:
    """Add a ``portfolio_update`` event (to the owner only) for each portfolio holding one of
    ``changed_assets`` whose figures differ from the ones its last event announced; the caller
    commits ``session``. Returns what was published.

    A portfolio that cannot be valued is logged and skipped: one owner's data must not keep
    the others' updates (and the load's price updates, committed with them) from going out."""
    portfolios = holding_any(session, changed_assets)
    if not portfolios:
        return []
    announced = _announced(session, [p.id for p in portfolios])
    assets = {a.asset_id: a for a in store.list_assets()}
    published: list[PortfolioFigures] = []
    for portfolio in portfolios:
        try:
            figures = figures_of(session, store, portfolio, assets)
        except Exception:
            log.exception("portfolio %s could not be valued: no update published", portfolio.id)
            continue
        if figures.held.isdisjoint(changed_assets):
            continue
        if _unchanged(figures, announced.get(portfolio.id)):
            continue
        ts = figures.as_of or dt.datetime.now(dt.UTC)
        publish(
            session, EventType.PORTFOLIO_UPDATE, ts, figures.payload(), user_id=portfolio.user_id
        )
        published.append(figures)
    return published
