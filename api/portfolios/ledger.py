"""Holdings, cost basis and realized P&L, derived by replaying a portfolio's transactions.

Pure and exact (``Decimal``, never a float). The rules:

* **buy**: adds ``quantity`` at a cost of ``quantity * price + fee`` (fees are part of the cost).
* **sell**: proceeds are ``quantity * price - fee``; the cost taken out is the oldest lots'
  (FIFO) or the average cost per unit times ``quantity`` (average cost); realized P&L is the
  difference.
* **transfer in**: adds ``quantity`` at ``price``, the cost basis per unit carried over from
  where it came (required).
* **transfer out**: takes ``quantity`` out at cost (FIFO or average, as a sale would) with no
  proceeds: moving assets is not selling them, so it realizes nothing.
* a transfer's **fee** (gas) buys nothing and sells nothing: it is realized as a loss.
* selling or sending more than is held raises :class:`OversoldError`: nothing is ever short.

Transactions replay in (time, id) order; the average cost of the remaining units is unchanged
by a sale.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
#: Digits the replay computes with: a division (a partial lot, an average cost) keeps far
#: more than the 18 stored, so sums of its results stay exact to the stored scale.
_PRECISION = 60


class TransactionKind(StrEnum):
    BUY = "buy"
    SELL = "sell"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"

    @property
    def adds(self) -> bool:
        return self in (TransactionKind.BUY, TransactionKind.TRANSFER_IN)


class CostMethod(StrEnum):
    FIFO = "fifo"
    AVERAGE = "average"


class OversoldError(ValueError):
    """A sale or transfer out of more than the portfolio holds at that moment."""

    def __init__(self, trade: Trade, held: Decimal) -> None:
        self.trade = trade
        self.held = held
        super().__init__(
            f"{trade.kind.value} of {trade.quantity} {trade.asset_id} at "
            f"{trade.at.isoformat()} exceeds the {held} held then"
        )


@dataclass(frozen=True, slots=True)
class Trade:
    """One transaction as the ledger reads it (``quantity`` > 0, ``fee`` >= 0)."""

    kind: TransactionKind
    asset_id: str
    quantity: Decimal
    price: Decimal | None
    fee: Decimal
    at: dt.datetime
    #: The stored transaction's id; None for one not stored yet (a CSV row being checked).
    id: int | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"quantity must be positive, not {self.quantity}")
        if self.fee < 0:
            raise ValueError(f"fee must not be negative, not {self.fee}")
        if self.kind is not TransactionKind.TRANSFER_OUT and self.price is None:
            raise ValueError(f"a {self.kind.value} needs a price")
        if self.price is not None and self.price < 0:
            raise ValueError(f"price must not be negative, not {self.price}")


@dataclass(frozen=True, slots=True)
class Step:
    """One asset's position right after one trade."""

    trade: Trade
    #: Units held after the trade.
    quantity: Decimal
    #: Cost basis of the units held after the trade.
    cost_basis: Decimal
    #: P&L this trade realized (a sale's gain or loss, a transfer's fee as a loss).
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Holding:
    """Where one asset ended: what is held, at what cost, and what its trades realized."""

    asset_id: str
    quantity: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal
    fees: Decimal

    @property
    def average_cost(self) -> Decimal | None:
        """Cost basis per unit held; None when nothing is held."""
        if not self.quantity:
            return None
        with decimal.localcontext(prec=_PRECISION):
            return self.cost_basis / self.quantity


@dataclass(frozen=True, slots=True)
class Ledger:
    #: Every trade's step, in replay order.
    steps: tuple[Step, ...]
    #: Every asset ever traded, by asset id (quantity 0 once all of it is gone).
    holdings: Mapping[str, Holding]

    @property
    def realized_pnl(self) -> Decimal:
        with decimal.localcontext(prec=_PRECISION):
            return sum((h.realized_pnl for h in self.holdings.values()), ZERO)


@dataclass(slots=True)
class _Position:
    """An asset's open lots as (quantity, total cost) pairs, oldest first."""

    lots: deque[tuple[Decimal, Decimal]] = field(default_factory=deque)
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO

    @property
    def quantity(self) -> Decimal:
        return sum((q for q, _ in self.lots), ZERO)

    @property
    def cost_basis(self) -> Decimal:
        return sum((c for _, c in self.lots), ZERO)

    def add(self, quantity: Decimal, cost: Decimal) -> None:
        self.lots.append((quantity, cost))

    def take(self, quantity: Decimal, method: CostMethod) -> Decimal:
        """Remove ``quantity`` units (no more than held) and return their cost."""
        if method is CostMethod.AVERAGE:
            held, cost = self.quantity, self.cost_basis
            taken = cost * quantity / held
            self.lots = deque([(held - quantity, cost - taken)]) if held > quantity else deque()
            return taken
        taken, left = ZERO, quantity
        while left > 0:
            lot_quantity, lot_cost = self.lots[0]
            used = min(left, lot_quantity)
            part = lot_cost if used == lot_quantity else lot_cost * used / lot_quantity
            taken, left = taken + part, left - used
            if used == lot_quantity:
                self.lots.popleft()
            else:
                self.lots[0] = (lot_quantity - used, lot_cost - part)
        return taken


def replay(trades: Iterable[Trade], method: CostMethod) -> Ledger:
    """The ledger of ``trades`` (any order: they are replayed by time, then id)."""
    ordered = sorted(trades, key=lambda t: (t.at, t.id is None, t.id or 0))
    positions: dict[str, _Position] = {}
    steps: list[Step] = []
    with decimal.localcontext() as context:
        context.prec = _PRECISION
        for trade in ordered:
            position = positions.setdefault(trade.asset_id, _Position())
            realized = _apply(position, trade, method)
            position.realized_pnl += realized
            position.fees += trade.fee
            steps.append(Step(trade, position.quantity, position.cost_basis, realized))
        # Summed in the same context: the default 28 digits would round a 38-digit quantity.
        holdings = {
            asset: Holding(asset, p.quantity, p.cost_basis, p.realized_pnl, p.fees)
            for asset, p in positions.items()
        }
    return Ledger(tuple(steps), holdings)


def _apply(position: _Position, trade: Trade, method: CostMethod) -> Decimal:
    """Apply one trade to its asset's position; return the P&L it realized."""
    if trade.kind.adds:
        assert trade.price is not None  # Trade checks it
        on_buy = trade.kind is TransactionKind.BUY
        position.add(trade.quantity, trade.quantity * trade.price + (trade.fee if on_buy else 0))
        return ZERO if on_buy else -trade.fee
    held = position.quantity
    if trade.quantity > held:
        raise OversoldError(trade, held)
    cost = position.take(trade.quantity, method)
    if trade.kind is TransactionKind.TRANSFER_OUT:
        return -trade.fee
    assert trade.price is not None
    return trade.quantity * trade.price - trade.fee - cost
