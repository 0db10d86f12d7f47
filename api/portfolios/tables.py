"""The portfolio tables of the operational database, on the accounts' declarative base (one
schema, one migration history: ``api/accounts/migrations``).

A portfolio is its transactions: holdings, cost basis and realized P&L are derived from them
(:mod:`api.portfolios.ledger`) and never stored or edited apart from them. Quantities, prices
and fees are exact decimals (:class:`~api.accounts.tables.ExactDecimal`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.accounts.tables import Base, utcnow


class Portfolio(Base):
    __tablename__ = "portfolios"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_portfolios_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: :class:`~api.portfolios.ledger.CostMethod`: "fifo" or "average".
    cost_method: Mapped[str] = mapped_column(String(16))
    #: Values, prices and P&L are in this currency (the served closes are USD).
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Moved by every change to the portfolio or its transactions.
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PortfolioTransaction(Base):
    """One buy, sell or transfer. Replayed in (``executed_at``, ``id``) order."""

    __tablename__ = "portfolio_transactions"
    __table_args__ = (Index("ix_portfolio_transactions_replay", "portfolio_id", "executed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    #: :class:`~api.portfolios.ledger.TransactionKind`.
    kind: Mapped[str] = mapped_column(String(16))
    asset_id: Mapped[str] = mapped_column(String(64))
    #: Units of the asset, always positive (``kind`` gives the direction).
    quantity: Mapped[Decimal]
    #: Price per unit in the portfolio's currency; for a transfer in, the cost basis per unit
    #: carried over; None only for a transfer out (it leaves at cost).
    price: Mapped[Decimal | None] = mapped_column(default=None)
    fee: Mapped[Decimal] = mapped_column(default=Decimal(0))
    executed_at: Mapped[dt.datetime]
    wallet_address: Mapped[str | None] = mapped_column(String(128), default=None)
    chain: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
