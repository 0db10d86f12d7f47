"""The request and response schemas of ``/portfolios`` (api.routes.portfolios).

Quantities, prices, fees and P&L are exact decimals. Requests take them as JSON strings
(``"0.000000000000000001"``) or numbers (read exactly, never through a float: see
:class:`ExactJsonRoute`); at most 18 digits after the point and below 10^20, as the columns
store them. Responses send them as strings of the exact decimal, so no client parses them
into a double by accident; values the ledger derives (a cost after a partial sale, an average
cost) are rounded half-even to 18 decimals.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Coroutine
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Literal

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from api.portfolios.ledger import CostMethod, TransactionKind

#: Digits after the point the columns keep (``ExactDecimal.SCALE``).
SCALE = 18
#: Significant digits derived values are computed with (the ledger's own precision).
EXACT_DIGITS = 60
#: Every stored amount is below this (NUMERIC(38, 18): 20 digits before the point).
AMOUNT_BOUND = Decimal(10) ** 20
#: Clock difference tolerated between a client and the server for "not in the future".
CLOCK_SKEW = dt.timedelta(minutes=1)
#: Transactions before this are refused (no market of the catalog's assets is older).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_QUANTUM = Decimal(1).scaleb(-SCALE)
_EVM = re.compile(r"0x[0-9a-fA-F]{40}")


def render(value: Decimal) -> str:
    """An exact decimal as the API sends it: plain notation, rounded half-even to 18 decimals,
    no trailing zeros (``"1.5"``, ``"100"``, ``"0.000000000000000001"``)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -SCALE:
        with decimal.localcontext(prec=EXACT_DIGITS):  # the default 28 digits would not do
            value = value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    if value == 0:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"

#: An exact decimal of a response: a JSON string.
ExactOut = Annotated[
    Decimal,
    PlainSerializer(render, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": _DECIMAL_PATTERN, "examples": ["1.5"]},
        mode="serialization",
    ),
]


Quantity = Annotated[
    Decimal, Field(gt=0, lt=AMOUNT_BOUND, decimal_places=SCALE, allow_inf_nan=False)
]
Amount = Annotated[Decimal, Field(ge=0, lt=AMOUNT_BOUND, decimal_places=SCALE, allow_inf_nan=False)]

PortfolioName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
    ),
]
#: A chain's name, as the reference data writes networks (``ethereum``, ``polygon-pos``).
Chain = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
#: A wallet address: letters, digits and ``. : _ -`` (EVM, Solana, bech32 and ENS names); a
#: ``0x`` address must be 40 hex digits.
Wallet = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_-]{2,127}$"),
]
Note = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]
AssetId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="An asset id of GET /assets.", examples=["ousg"]),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortfolioIn(_In):
    name: PortfolioName = Field(description="Unique among your portfolios.", examples=["Core"])
    cost_method: CostMethod = Field(
        default=CostMethod.FIFO,
        description="How a sale's cost is taken: the oldest lots first (fifo) or the average "
        "cost of what is held (average).",
    )
    currency: Literal["USD"] = Field(default="USD", description="Served prices are USD.")


class PortfolioPatch(_In):
    """Only the fields given change."""

    name: PortfolioName | None = None
    cost_method: CostMethod | None = None


class PortfolioOut(BaseModel):
    id: int
    name: str
    cost_method: CostMethod
    currency: str
    transactions: int = Field(description="How many transactions the portfolio holds.")
    created_at: dt.datetime
    updated_at: dt.datetime = Field(description="Moved by every change, transactions included.")


class PortfolioPage(BaseModel):
    total: int
    limit: int
    offset: int
    portfolios: list[PortfolioOut]


def _not_future(value: dt.datetime) -> dt.datetime:
    """Before now (a minute's clock skew allowed) and after 1970, as UTC."""
    # Compared on the calendar first: an offset near a year's limit must not overflow.
    if value.year > dt.datetime.now(dt.UTC).year + 1:
        raise ValueError("must not be in the future")
    if value.year < EARLIEST.year:
        raise ValueError("must be between 1970 and now")
    utc = value.astimezone(dt.UTC)
    if utc > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    if utc < EARLIEST:
        raise ValueError("must be between 1970 and now")
    return utc


class TransactionIn(_In):
    """One buy, sell or transfer (CSV rows are read into this too)."""

    kind: TransactionKind
    asset_id: AssetId
    quantity: Quantity = Field(description="Units, > 0 (the kind gives the direction).")
    price: Amount | None = Field(
        default=None,
        validate_default=True,
        description="Per unit, in the portfolio's currency; for a transfer in, the cost per "
        "unit carried over. Required except for a transfer out (it leaves at cost).",
    )
    fee: Amount = Field(default=Decimal(0), description="Fees or gas, >= 0.")
    executed_at: AwareDatetime = Field(
        description="When it happened: ISO-8601 with a time zone, not in the future."
    )
    wallet_address: Wallet | None = None
    chain: Chain | None = None
    note: Note | None = None

    @field_validator("price")
    @classmethod
    def _price_needed(cls, price: Decimal | None, info: ValidationInfo) -> Decimal | None:
        kind = info.data.get("kind")
        if price is None and kind is not None and kind is not TransactionKind.TRANSFER_OUT:
            raise ValueError(f"a {kind.value} needs a price")
        return price

    @field_validator("wallet_address")
    @classmethod
    def _evm_address(cls, value: str | None) -> str | None:
        if value is not None and value[:2].lower() == "0x" and not _EVM.fullmatch(value):
            raise ValueError("an address starting 0x must be 0x and 40 hex digits")
        return value

    @field_validator("executed_at")
    @classmethod
    def _in_the_past(cls, value: dt.datetime) -> dt.datetime:
        return _not_future(value)


class TransactionOut(BaseModel):
    id: int
    portfolio_id: int
    kind: TransactionKind
    asset_id: str
    quantity: ExactOut
    price: ExactOut | None
    fee: ExactOut
    executed_at: dt.datetime
    wallet_address: str | None
    chain: str | None
    note: str | None
    created_at: dt.datetime


class TransactionPage(BaseModel):
    total: int
    limit: int
    offset: int
    transactions: list[TransactionOut]


class PortfolioExport(PortfolioOut):
    """A portfolio in the account's data export (``GET /me/export``)."""

    transaction_list: list[TransactionOut] = Field(description="Oldest first.")


class ImportOut(BaseModel):
    portfolio_id: int
    imported: int = Field(description="How many transactions the file added.")


class HoldingOut(BaseModel):
    """One asset's position from the ledger (no market price: see /valuation)."""

    asset_id: str
    quantity: ExactOut = Field(description="Units held (0 once all of it is gone).")
    cost_basis: ExactOut = Field(description="Cost of the units held, fees included.")
    average_cost: ExactOut | None = Field(description="Cost basis per unit; null when none held.")
    realized_pnl: ExactOut = Field(description="What the asset's sales (and gas) realized.")
    fees: ExactOut = Field(description="Every fee paid on the asset's transactions.")


class HoldingsOut(BaseModel):
    portfolio_id: int
    cost_method: CostMethod
    currency: str
    realized_pnl: ExactOut = Field(description="Sum over the assets.")
    holdings: list[HoldingOut] = Field(description="Every asset ever traded, by asset id.")


def _exact_json(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


class _ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = _exact_json(await self.body())
        return self._json


class ExactJsonRoute(APIRoute):
    """A route whose JSON body reads numbers with a fraction as exact decimals, not floats:
    ``"quantity": 0.1`` is 0.1, and 18 decimals survive (FastAPI's reader would round them
    through a double)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(_ExactJsonRequest(request.scope, request.receive))

        return exact
