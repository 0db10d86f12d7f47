"""Storing and reading portfolios and their transactions. Every read and write starts from the
owner: :func:`owned` answers another user's portfolio exactly as a missing one
(:class:`PortfolioNotFoundError`, a 404 the app's handler writes), so ids reveal nothing.

The other portfolio services (valuation, risk, reports, the page) read through :func:`owned`,
:func:`trades_of` and :func:`ledger_of`. Holdings are never stored: every change to the
transactions replays the whole ledger first and is refused (:class:`LedgerConflictError`, no
row written) when a later sale or transfer out would then exceed what was held.

Writes serialise per portfolio: each moves the portfolio's ``updated_at`` *before* reading its
transactions, which takes the row's lock on PostgreSQL and SQLite's write lock, so two
concurrent sales cannot both pass the check against the same holdings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.accounts.tables import User, utcnow
from api.portfolios.ledger import (
    CostMethod,
    Ledger,
    OversoldError,
    Trade,
    TransactionKind,
    replay,
)
from api.portfolios.schemas import PortfolioExport, TransactionIn, TransactionOut, render
from api.portfolios.tables import Portfolio, PortfolioTransaction
from pipelines.core.errors import NotFoundError


class PortfolioNotFoundError(NotFoundError):
    """No such portfolio of this user (whether it exists for another is not said)."""

    def __init__(self, portfolio_id: int) -> None:
        super().__init__(f"no portfolio {portfolio_id}")


class TransactionNotFoundError(NotFoundError):
    def __init__(self, transaction_id: int) -> None:
        super().__init__(f"no transaction {transaction_id} in this portfolio")


class PortfolioLimitError(Exception):
    """The user already owns as many portfolios as their tier allows."""


class NameTakenError(Exception):
    """The user already has a portfolio of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"you already have a portfolio named {name!r}")


class LedgerConflictError(Exception):
    """A change after which a sale or transfer out would exceed what was held then. The
    message names that transaction, its asset and the quantity held."""

    def __init__(self, message: str, oversold: OversoldError) -> None:
        super().__init__(message)
        self.oversold = oversold


# --- portfolios -------------------------------------------------------------------------------


def owned(session: Session, user_id: int, portfolio_id: int) -> Portfolio:
    """The portfolio ``portfolio_id`` if ``user_id`` owns it; else
    :class:`PortfolioNotFoundError` (404), the same for another user's as for none."""
    row = session.get(Portfolio, portfolio_id)
    if row is None or row.user_id != user_id:
        raise PortfolioNotFoundError(portfolio_id)
    return row


def count(session: Session, user_id: int) -> int:
    query = select(func.count()).select_from(Portfolio).where(Portfolio.user_id == user_id)
    return session.scalar(query) or 0


def _name_taken(session: Session, user_id: int, name: str, but: int | None = None) -> bool:
    query = select(Portfolio.id).where(Portfolio.user_id == user_id, Portfolio.name == name)
    if but is not None:
        query = query.where(Portfolio.id != but)
    return session.scalar(query) is not None


def create(
    session: Session, user_id: int, name: str, cost_method: CostMethod, limit: int | None
) -> Portfolio:
    """Store a new portfolio; :class:`PortfolioLimitError` when that would make more than
    ``limit`` (None: no limit), :class:`NameTakenError` when the name is the user's already.
    The caller commits."""
    # PostgreSQL: one user's concurrent creations queue on their row. SQLite ignores FOR
    # UPDATE; there the insert takes the database's write lock before the count.
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
    if _name_taken(session, user_id, name):
        raise NameTakenError(name)
    now = utcnow()
    row = Portfolio(
        user_id=user_id,
        name=name,
        cost_method=cost_method.value,
        currency="USD",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the same name, created concurrently
        session.rollback()
        raise NameTakenError(name) from None
    if limit is not None and count(session, user_id) > limit:
        session.rollback()
        raise PortfolioLimitError(f"at most {limit} portfolios")
    return row


def page(
    session: Session, user_id: int, limit: int, offset: int
) -> tuple[int, list[tuple[Portfolio, int]]]:
    """The user's portfolios, oldest first, each with its number of transactions, and how
    many portfolios there are in all."""
    counts = (
        select(PortfolioTransaction.portfolio_id, func.count().label("n"))
        .group_by(PortfolioTransaction.portfolio_id)
        .subquery()
    )
    query = (
        select(Portfolio, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.portfolio_id == Portfolio.id)
        .where(Portfolio.user_id == user_id)
        .order_by(Portfolio.id)
        .limit(limit)
        .offset(offset)
    )
    rows = [(portfolio, int(n)) for portfolio, n in session.execute(query).tuples()]
    return count(session, user_id), rows


def transaction_count(session: Session, portfolio: Portfolio) -> int:
    query = select(func.count()).where(PortfolioTransaction.portfolio_id == portfolio.id)
    return session.scalar(query) or 0


def touch(session: Session, portfolio: Portfolio) -> None:
    """Move ``updated_at`` and write it now: the lock that serialises this portfolio's
    changes (see the module's docstring)."""
    portfolio.updated_at = utcnow()
    session.flush()


def update(
    session: Session,
    portfolio: Portfolio,
    name: str | None = None,
    cost_method: CostMethod | None = None,
) -> Portfolio:
    """Rename and/or change the cost method (realized P&L is then replayed with it; holdings
    are the same under both). :class:`NameTakenError` on a name in use. The caller commits."""
    if name is not None and _name_taken(session, portfolio.user_id, name, but=portfolio.id):
        raise NameTakenError(name)
    if name is not None:
        portfolio.name = name
    if cost_method is not None:
        portfolio.cost_method = cost_method.value
    try:
        touch(session, portfolio)
    except IntegrityError:
        session.rollback()
        raise NameTakenError(name or portfolio.name) from None
    return portfolio


def delete(session: Session, portfolio: Portfolio) -> None:
    """Delete the portfolio; its transactions go with it (ON DELETE CASCADE)."""
    session.delete(portfolio)
    session.flush()


# --- the ledger -------------------------------------------------------------------------------


def _trade(row: PortfolioTransaction) -> Trade:
    return Trade(
        kind=TransactionKind(row.kind),
        asset_id=row.asset_id,
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        at=row.executed_at,
        id=row.id,
    )


def transactions_of(session: Session, portfolio: Portfolio) -> list[PortfolioTransaction]:
    """Every transaction of the portfolio in replay order (time, then id)."""
    query = (
        select(PortfolioTransaction)
        .where(PortfolioTransaction.portfolio_id == portfolio.id)
        .order_by(PortfolioTransaction.executed_at, PortfolioTransaction.id)
    )
    return list(session.scalars(query))


def trades_of(session: Session, portfolio: Portfolio) -> list[Trade]:
    """The portfolio's transactions as the ledger reads them, in replay order."""
    return [_trade(row) for row in transactions_of(session, portfolio)]


def ledger_of(session: Session, portfolio: Portfolio) -> Ledger:
    """Holdings, cost basis and realized P&L of the portfolio, by its cost method."""
    return replay(trades_of(session, portfolio), CostMethod(portfolio.cost_method))


def describe(trade: Trade, label: str | None = None) -> str:
    """A trade in words, for a 409: "sell of 5 btc at 2024-01-02T00:00:00+00:00 (transaction
    7)"."""
    which = label or (f"transaction {trade.id}" if trade.id is not None else "the new one")
    return f"{trade.kind.value} of {render(trade.quantity)} {trade.asset_id} at " + (
        f"{trade.at.isoformat()} ({which})"
    )


def oversold_message(error: OversoldError, label: str | None = None) -> str:
    return (
        f"{describe(error.trade, label)} would exceed the {render(error.held)} "
        f"{error.trade.asset_id} held then"
    )


def to_trade(spec: TransactionIn) -> Trade:
    return Trade(
        kind=spec.kind,
        asset_id=spec.asset_id,
        quantity=spec.quantity,
        price=spec.price,
        fee=spec.fee,
        at=spec.executed_at,
    )


def _row(portfolio: Portfolio, spec: TransactionIn, now: dt.datetime) -> PortfolioTransaction:
    return PortfolioTransaction(
        portfolio_id=portfolio.id,
        kind=spec.kind.value,
        asset_id=spec.asset_id,
        quantity=_stored(spec.quantity),
        price=None if spec.price is None else _stored(spec.price),
        fee=_stored(spec.fee),
        executed_at=spec.executed_at,
        wallet_address=spec.wallet_address,
        chain=spec.chain,
        note=spec.note,
        created_at=now,
    )


def _stored(value: Decimal) -> Decimal:
    """The value with no exponent beyond the 18 decimals kept (``1.50000000000000000000`` is
    within them once its trailing zeros go)."""
    return Decimal(render(value))


def add(
    session: Session,
    portfolio: Portfolio,
    specs: Sequence[TransactionIn],
    labels: Sequence[str] | None = None,
) -> list[PortfolioTransaction]:
    """Store ``specs`` after replaying them with the portfolio's transactions; raises
    :class:`LedgerConflictError` (nothing written) when a sale or transfer out, theirs or a
    later one, would exceed holdings. ``labels`` name the specs in that message (CSV rows).
    The caller commits."""
    touch(session, portfolio)
    new = [to_trade(spec) for spec in specs]
    names = {id(trade): label for trade, label in zip(new, labels or (), strict=False)}
    try:
        replay([*trades_of(session, portfolio), *new], CostMethod(portfolio.cost_method))
    except OversoldError as error:
        session.rollback()
        message = oversold_message(error, names.get(id(error.trade)))
        raise LedgerConflictError(f"{message}: nothing was added", error) from None
    now = utcnow()
    rows = [_row(portfolio, spec, now) for spec in specs]
    session.add_all(rows)
    session.flush()
    return rows


def remove(session: Session, portfolio: Portfolio, transaction_id: int) -> None:
    """Delete one transaction after replaying the rest; :class:`TransactionNotFoundError`
    when the portfolio has no such transaction, :class:`LedgerConflictError` (nothing
    deleted) when a later sale or transfer out would then exceed holdings. The caller
    commits."""
    touch(session, portfolio)  # first: a concurrent deletion of the same row is then seen
    row = session.get(PortfolioTransaction, transaction_id)
    if row is None or row.portfolio_id != portfolio.id:
        session.rollback()
        raise TransactionNotFoundError(transaction_id)
    rest = [trade for trade in trades_of(session, portfolio) if trade.id != transaction_id]
    try:
        replay(rest, CostMethod(portfolio.cost_method))
    except OversoldError as error:
        session.rollback()
        message = f"deleting transaction {transaction_id}: {oversold_message(error)}"
        raise LedgerConflictError(f"{message}; nothing was deleted", error) from None
    session.delete(row)
    session.flush()


def transactions_page(
    session: Session,
    portfolio: Portfolio,
    *,
    asset_id: str | None = None,
    kind: TransactionKind | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[int, list[PortfolioTransaction]]:
    """The portfolio's transactions, newest first (time, then id), filtered by asset, kind
    and ``since <= executed_at < until``; and how many match in all."""
    where = [PortfolioTransaction.portfolio_id == portfolio.id]
    if asset_id is not None:
        where.append(PortfolioTransaction.asset_id == asset_id)
    if kind is not None:
        where.append(PortfolioTransaction.kind == kind.value)
    if since is not None:
        where.append(PortfolioTransaction.executed_at >= since)
    if until is not None:
        where.append(PortfolioTransaction.executed_at < until)
    total = session.scalar(select(func.count()).select_from(PortfolioTransaction).where(*where))
    query = (
        select(PortfolioTransaction)
        .where(*where)
        .order_by(PortfolioTransaction.executed_at.desc(), PortfolioTransaction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total or 0, list(session.scalars(query))


def portfolios_of(session: Session, user_id: int) -> list[Portfolio]:
    """All of a user's portfolios, oldest first (their data export)."""
    query = select(Portfolio).where(Portfolio.user_id == user_id).order_by(Portfolio.id)
    return list(session.scalars(query))


def export(session: Session, user_id: int) -> list[dict[str, Any]]:
    """Every portfolio of the user with its transactions, as JSON (their data export)."""
    exported = []
    for portfolio in portfolios_of(session, user_id):
        rows = transactions_of(session, portfolio)
        listed = [TransactionOut.model_validate(row, from_attributes=True) for row in rows]
        one = PortfolioExport(
            id=portfolio.id,
            name=portfolio.name,
            cost_method=CostMethod(portfolio.cost_method),
            currency=portfolio.currency,
            transactions=len(listed),
            created_at=portfolio.created_at,
            updated_at=portfolio.updated_at,
            transaction_list=listed,
        )
        exported.append(one.model_dump(mode="json"))
    return exported
