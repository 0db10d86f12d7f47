"""``client.portfolios`` (portfolios, their ledger, holdings, valuation, allocation, P&L)
and ``client.reports`` (PDF reports, as bytes)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from api.client.operations import When, body, operation
from api.client.resource import Resource
from api.client.results import Page, Result

CostMethod = Literal["fifo", "average"]
TransactionKind = Literal["buy", "sell", "transfer_in", "transfer_out"]
#: Quantities and money: exact (Decimal or its text), never a float.
Exact = Decimal | str | int

CREATE = operation("POST", "/portfolios")
LIST = operation("GET", "/portfolios", "limit", "offset", rows="portfolios")
GET = operation("GET", "/portfolios/{portfolio_id}")
UPDATE = operation("PATCH", "/portfolios/{portfolio_id}")
DELETE = operation("DELETE", "/portfolios/{portfolio_id}")
ADD_TRANSACTION = operation("POST", "/portfolios/{portfolio_id}/transactions")
TRANSACTIONS = operation(
    "GET",
    "/portfolios/{portfolio_id}/transactions",
    "asset_id",
    "kind",
    "since",
    "until",
    "limit",
    "offset",
    rows="transactions",
)
IMPORT = operation("POST", "/portfolios/{portfolio_id}/transactions/import")
DELETE_TRANSACTION = operation("DELETE", "/portfolios/{portfolio_id}/transactions/{transaction_id}")
HOLDINGS = operation("GET", "/portfolios/{portfolio_id}/holdings", rows="holdings")
VALUATION = operation("GET", "/portfolios/{portfolio_id}/valuation", rows="positions")
ALLOCATION = operation("GET", "/portfolios/{portfolio_id}/allocation", rows="by_asset")
RISK = operation("GET", "/portfolios/{portfolio_id}/risk", rows="holdings")
PNL = operation("GET", "/portfolios/{portfolio_id}/pnl", "start", "end", rows="days")
ASSET_REPORT = operation("GET", "/reports/assets/{asset_id}.pdf")
PORTFOLIO_REPORT = operation("GET", "/reports/portfolios/{portfolio_id}.pdf")


class Portfolios(Resource):
    """A user's portfolios and their transactions. Money and quantities are exact: pass
    Decimal or text; answers carry them as text (``Decimal(row["quantity"])``)."""

    def create(self, name: str, cost_method: CostMethod | None = None) -> Result:
        return self._result(CREATE, json=body(name=name, cost_method=cost_method))

    def list(self, *, limit: int | None = None, offset: int = 0) -> Page:
        return self._page(LIST, None, {"limit": limit, "offset": offset})

    def get(self, portfolio_id: int) -> Result:
        return self._result(GET, {"portfolio_id": portfolio_id})

    def update(
        self, portfolio_id: int, *, name: str | None = None, cost_method: CostMethod | None = None
    ) -> Result:
        change = body(name=name, cost_method=cost_method)
        return self._result(UPDATE, {"portfolio_id": portfolio_id}, json=change)

    def delete(self, portfolio_id: int) -> None:
        self._nothing(DELETE, {"portfolio_id": portfolio_id})

    def add_transaction(
        self,
        portfolio_id: int,
        kind: TransactionKind,
        asset_id: str,
        quantity: Exact,
        executed_at: When,
        *,
        price: Exact | None = None,
        fee: Exact | None = None,
        wallet_address: str | None = None,
        chain: str | None = None,
        note: str | None = None,
    ) -> Result:
        trade = body(kind=kind, asset_id=asset_id, quantity=quantity, executed_at=executed_at)
        details = body(price=price, fee=fee, wallet_address=wallet_address, chain=chain, note=note)
        path = {"portfolio_id": portfolio_id}
        return self._result(ADD_TRANSACTION, path, json=_exact({**trade, **details}))

    def transactions(
        self,
        portfolio_id: int,
        *,
        asset_id: str | None = None,
        kind: TransactionKind | None = None,
        since: When | None = None,
        until: When | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        query = {"asset_id": asset_id, "kind": kind, "since": since, "until": until}
        paging = {"limit": limit, "offset": offset}
        return self._page(TRANSACTIONS, {"portfolio_id": portfolio_id}, {**query, **paging})

    def import_csv(self, portfolio_id: int, csv: str | bytes | Path) -> Result:
        """Transactions from a CSV (text, bytes or a file; columns as docs/api.md says)."""
        content = csv.read_bytes() if isinstance(csv, Path) else csv
        headers = {"Content-Type": "text/csv"}
        path = {"portfolio_id": portfolio_id}
        return self._result(IMPORT, path, content=content, headers=headers)

    def delete_transaction(self, portfolio_id: int, transaction_id: int) -> None:
        path = {"portfolio_id": portfolio_id, "transaction_id": transaction_id}
        self._nothing(DELETE_TRANSACTION, path)

    def holdings(self, portfolio_id: int) -> Result:
        return self._result(HOLDINGS, {"portfolio_id": portfolio_id})

    def valuation(self, portfolio_id: int) -> Result:
        """Value at the latest served prices; rows: ``positions``."""
        return self._result(VALUATION, {"portfolio_id": portfolio_id})

    def allocation(self, portfolio_id: int) -> Result:
        """Rows: ``by_asset`` (``["by_asset_class"]`` etc. hold the other groupings)."""
        return self._result(ALLOCATION, {"portfolio_id": portfolio_id})

    def pnl(
        self, portfolio_id: int, *, start: When | None = None, end: When | None = None
    ) -> Result:
        """Daily value and P&L over ``[start, end]`` (days, inclusive)."""
        return self._result(PNL, {"portfolio_id": portfolio_id}, {"start": start, "end": end})

    def risk(self, portfolio_id: int) -> Result:
        """VaR, concentration, peg exposure and risk scores of the portfolio (tiers with
        risk detail: ForbiddenError naming the tier otherwise)."""
        return self._result(RISK, {"portfolio_id": portfolio_id})


class Reports(Resource):
    """``client.reports``: PDF reports (paid tiers; an explorer gets ForbiddenError)."""

    def asset_pdf(self, asset_id: str, save_to: Path | None = None) -> bytes:
        """The asset's report as PDF bytes (also written to ``save_to`` when given)."""
        return _saved(self._bytes(ASSET_REPORT, {"asset_id": asset_id}), save_to)

    def portfolio_pdf(self, portfolio_id: int, save_to: Path | None = None) -> bytes:
        """One of your portfolios' report (value, P&L, allocation, risk, holdings) as PDF."""
        return _saved(self._bytes(PORTFOLIO_REPORT, {"portfolio_id": portfolio_id}), save_to)


def _saved(pdf: bytes, save_to: Path | None) -> bytes:
    if save_to is not None:
        save_to.write_bytes(pdf)
    return pdf


def _exact(fields: dict[str, object]) -> dict[str, object]:
    """Numbers as text: the API reads money exactly, a float would round."""
    return {k: str(v) if isinstance(v, int | float) else v for k, v in fields.items()}
