"""``/portfolios``: the signed-in user's portfolios, their transactions and holdings.

Reads need ``read:data``; creating, changing and deleting portfolios and transactions need
``manage:account``, as alert rules do: a read-only API key (a dashboard's, a script's) can show
a portfolio but not rewrite its history. Another user's portfolio answers 404 to every verb,
like one that never existed. Exact decimals are JSON strings in answers (docs/api.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from api.accounts import audit
from api.accounts.audit import ClientInfo, Outcome
from api.accounts.principal import Role, Scope
from api.accounts.tables import User
from api.deps import (
    Authenticated,
    Client,
    DbSession,
    ManagedAccount,
    Responses,
    StoreDep,
    account_of,
)
from api.portfolios import csv_import, service
from api.portfolios.ledger import CostMethod, TransactionKind
from api.portfolios.schemas import (
    ExactJsonRoute,
    HoldingOut,
    HoldingsOut,
    ImportOut,
    PortfolioIn,
    PortfolioOut,
    PortfolioPage,
    PortfolioPatch,
    TransactionIn,
    TransactionOut,
    TransactionPage,
)
from api.portfolios.tables import Portfolio
from api.schemas import ErrorOut, QueryInstant
from api.security.tiers import Cap, cap_reached, tier_of
from pipelines.serving.store import ServingStore

router = APIRouter(prefix="/portfolios", tags=["portfolios"], route_class=ExactJsonRoute)

#: A portfolio's id (a 32-bit integer column on PostgreSQL: larger values name none).
PortfolioId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The portfolio's id.")]
TransactionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The transaction's id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many to skip.")]

NOT_FOUND: Responses = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such portfolio of yours."}
}
CONFLICT: Responses = {
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "A later sale or transfer out would exceed what was held then (the "
        "detail names it, its asset and the quantity held); nothing was changed.",
    }
}
NAME_TAKEN: Responses = {
    status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "The name is in use."}
}


def reader(session: DbSession, principal: Authenticated) -> User:
    return account_of(session, principal, Scope.READ_DATA)


Reader = Annotated[User, Depends(reader)]


def _audit(session: Session, action: str, client: ClientInfo, user: User, **detail: Any) -> None:
    audit.record(session, action, Outcome.SUCCESS, client, actor_user_id=user.id, detail=detail)


def _out(portfolio: Portfolio, transactions: int) -> PortfolioOut:
    return PortfolioOut(
        id=portfolio.id,
        name=portfolio.name,
        cost_method=CostMethod(portfolio.cost_method),
        currency=portfolio.currency,
        transactions=transactions,
        created_at=portfolio.created_at,
        updated_at=portfolio.updated_at,
    )


def _conflict(error: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(error))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PortfolioOut,
    responses=NAME_TAKEN
    | {
        status.HTTP_403_FORBIDDEN: {
            "model": ErrorOut,
            "description": "The tier's number of portfolios is reached, or the credential "
            "lacks manage:account.",
        }
    },
    summary="Create a portfolio",
)
def create_portfolio(
    body: PortfolioIn, session: DbSession, user: ManagedAccount, client: Client
) -> PortfolioOut:
    """How many portfolios a user may own depends on the tier (docs/security.md)."""
    role = Role(user.role)
    try:
        row = service.create(
            session, user.id, body.name, body.cost_method, tier_of(role).portfolios
        )
    except service.PortfolioLimitError:
        raise cap_reached(role, Cap.PORTFOLIOS) from None
    except service.NameTakenError as error:
        raise _conflict(error) from None
    _audit(session, "portfolio.create", client, user, portfolio_id=row.id)
    session.commit()
    return _out(row, 0)


@router.get("", response_model=PortfolioPage, summary="List your portfolios")
def list_portfolios(
    session: DbSession, user: Reader, limit: Limit = 100, offset: Offset = 0
) -> PortfolioPage:
    total, rows = service.page(session, user.id, limit, offset)
    portfolios = [_out(portfolio, n) for portfolio, n in rows]
    return PortfolioPage(total=total, limit=limit, offset=offset, portfolios=portfolios)


@router.get(
    "/{portfolio_id}", response_model=PortfolioOut, responses=NOT_FOUND, summary="One portfolio"
)
def get_portfolio(portfolio_id: PortfolioId, session: DbSession, user: Reader) -> PortfolioOut:
    row = service.owned(session, user.id, portfolio_id)
    return _out(row, service.transaction_count(session, row))


@router.patch(
    "/{portfolio_id}",
    response_model=PortfolioOut,
    responses=NOT_FOUND | NAME_TAKEN,
    summary="Rename a portfolio or change its cost method",
)
def update_portfolio(
    portfolio_id: PortfolioId, body: PortfolioPatch, session: DbSession, user: ManagedAccount
) -> PortfolioOut:
    """Only the fields given change; a new cost method replays the realized P&L with it."""
    row = service.owned(session, user.id, portfolio_id)
    try:
        service.update(session, row, name=body.name, cost_method=body.cost_method)
    except service.NameTakenError as error:
        raise _conflict(error) from None
    session.commit()
    return _out(row, service.transaction_count(session, row))


@router.delete(
    "/{portfolio_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
    summary="Delete a portfolio and its transactions",
)
def delete_portfolio(
    portfolio_id: PortfolioId, session: DbSession, user: ManagedAccount, client: Client
) -> Response:
    row = service.owned(session, user.id, portfolio_id)
    service.delete(session, row)
    _audit(session, "portfolio.delete", client, user, portfolio_id=portfolio_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- transactions -----------------------------------------------------------------------------


def unknown_assets(
    store: ServingStore, asset_ids: Sequence[tuple[Any, str]]
) -> list[dict[str, Any]]:
    """422 error entries (FastAPI's shape) for each (location, asset id) whose asset the
    serving store does not know."""
    known: dict[str, bool] = {}
    errors = []
    for loc, asset_id in asset_ids:
        if asset_id not in known:
            known[asset_id] = store.get_asset(asset_id) is not None
        if not known[asset_id]:
            errors.append(
                {
                    "loc": loc,
                    "msg": f"unknown asset {asset_id!r}: not among GET /assets",
                    "type": "unknown_asset",
                    "input": asset_id,
                }
            )
    return errors


def unprocessable(errors: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors)


def transaction_out(row: Any) -> TransactionOut:
    return TransactionOut.model_validate(row, from_attributes=True)


@router.post(
    "/{portfolio_id}/transactions",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionOut,
    responses=NOT_FOUND | CONFLICT,
    summary="Record a buy, sell or transfer",
)
def add_transaction(
    portfolio_id: PortfolioId,
    body: TransactionIn,
    session: DbSession,
    user: ManagedAccount,
    store: StoreDep,
) -> TransactionOut:
    """Holdings are replayed with it first: a sale or transfer out of more than is held at
    its time (or one that makes a later one so) is 409 and nothing is stored. An asset
    not among ``GET /assets`` is 422."""
    row = service.owned(session, user.id, portfolio_id)
    errors = unknown_assets(store, [(["body", "asset_id"], body.asset_id)])
    if errors:
        raise unprocessable(errors)
    try:
        (added,) = service.add(session, row, [body])
    except service.LedgerConflictError as error:
        raise _conflict(error) from None
    session.commit()
    return transaction_out(added)


async def csv_body(request: Request) -> tuple[str, bytes]:
    """The request's content type and body, read whole (the app caps its size)."""
    return request.headers.get("content-type", ""), await request.body()


#: The request body the import documents: the file itself, or a form with a ``file`` field.
CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {csv_import.FILE_FIELD: {"type": "string", "format": "binary"}},
                    "required": [csv_import.FILE_FIELD],
                }
            },
        },
    }
}


@router.post(
    "/{portfolio_id}/transactions/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportOut,
    responses=NOT_FOUND | CONFLICT,
    openapi_extra=CSV_BODY,
    summary="Import transactions from a CSV file, all or nothing",
)
def import_transactions(
    portfolio_id: PortfolioId,
    upload: Annotated[tuple[str, bytes], Depends(csv_body)],
    session: DbSession,
    user: ManagedAccount,
    store: StoreDep,
    client: Client,
) -> ImportOut:
    """Columns ``executed_at, kind, asset_id, quantity`` and optionally ``price, fee,
    wallet_address, chain, note`` (docs/api.md), at most 5,000 rows. Any bad row is a 422
    listing every problem (``loc``: ``["body", row, column]``, the header being row 1); a file
    after which a sale would exceed holdings is a 409 naming its row. Nothing is imported
    then."""
    row = service.owned(session, user.id, portfolio_id)
    try:
        parsed = csv_import.parse(csv_import.file_of(*upload))
    except csv_import.ImportRefusedError as error:
        raise unprocessable([e.as_detail() for e in error.errors]) from None
    assets = [(["body", p.row, "asset_id"], p.transaction.asset_id) for p in parsed]
    errors = unknown_assets(store, assets)
    if errors:
        raise unprocessable(errors)
    labels = [f"row {p.row}" for p in parsed]
    try:
        added = service.add(session, row, [p.transaction for p in parsed], labels)
    except service.LedgerConflictError as error:
        raise _conflict(error) from None
    _audit(session, "portfolio.import", client, user, portfolio_id=row.id, rows=len(added))
    session.commit()
    return ImportOut(portfolio_id=row.id, imported=len(added))


@router.get(
    "/{portfolio_id}/transactions",
    response_model=TransactionPage,
    responses=NOT_FOUND,
    summary="List a portfolio's transactions",
)
def list_transactions(
    portfolio_id: PortfolioId,
    session: DbSession,
    user: Reader,
    asset_id: Annotated[str | None, Query(max_length=64, description="Only this asset.")] = None,
    kind: Annotated[TransactionKind | None, Query(description="Only this kind.")] = None,
    since: Annotated[
        QueryInstant | None, Query(description="Executed at or after (a date: midnight UTC).")
    ] = None,
    until: Annotated[QueryInstant | None, Query(description="Executed before.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> TransactionPage:
    """Newest first (by execution time, then id)."""
    row = service.owned(session, user.id, portfolio_id)
    total, rows = service.transactions_page(
        session,
        row,
        asset_id=asset_id,
        kind=kind,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    transactions = [transaction_out(r) for r in rows]
    return TransactionPage(total=total, limit=limit, offset=offset, transactions=transactions)


@router.delete(
    "/{portfolio_id}/transactions/{transaction_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=CONFLICT
    | {
        status.HTTP_404_NOT_FOUND: {
            "model": ErrorOut,
            "description": "No such portfolio of yours, or no such transaction in it.",
        }
    },
    summary="Delete a transaction",
)
def delete_transaction(
    portfolio_id: PortfolioId,
    transaction_id: TransactionId,
    session: DbSession,
    user: ManagedAccount,
) -> Response:
    """Refused (409, nothing deleted) when a later sale or transfer out would then exceed
    what was held: deleting a buy that a sale drew on."""
    row = service.owned(session, user.id, portfolio_id)
    try:
        service.remove(session, row, transaction_id)
    except service.LedgerConflictError as error:
        raise _conflict(error) from None
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{portfolio_id}/holdings",
    response_model=HoldingsOut,
    responses=NOT_FOUND,
    summary="Holdings, cost basis and realized P&L",
)
def holdings(portfolio_id: PortfolioId, session: DbSession, user: Reader) -> HoldingsOut:
    """From the ledger alone (no market price: ``/valuation`` adds those): per asset ever
    traded, the quantity held, its cost basis and average cost, the realized P&L and fees."""
    row = service.owned(session, user.id, portfolio_id)
    ledger = service.ledger_of(session, row)
    rows = [
        HoldingOut(
            asset_id=h.asset_id,
            quantity=h.quantity,
            cost_basis=h.cost_basis,
            average_cost=h.average_cost,
            realized_pnl=h.realized_pnl,
            fees=h.fees,
        )
        for _, h in sorted(ledger.holdings.items())
    ]
    return HoldingsOut(
        portfolio_id=row.id,
        cost_method=CostMethod(row.cost_method),
        currency=row.currency,
        realized_pnl=ledger.realized_pnl,
        holdings=rows,
    )
