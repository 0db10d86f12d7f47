"""What a portfolio is worth now: every held asset at its latest served price, unrealized and
realized P&L, total return and allocation by asset, asset class, network and issuer.

The price rule (one place; :mod:`api.portfolios.history` applies the same per day):

* an asset is **NAV-priced** when the served on-chain data (``onchain_metrics.nav_usd``, the
  NAV gold carries for tokenized funds and treasuries) holds a NAV for it published at most
  :data:`NAV_MAX_AGE` before the valuation's day: it is valued at that NAV
  (``price_source="nav"``). A fund's token trades thinly, often at a premium or a discount
  (``premium_to_nav``); what the holder owns is a share of the fund, and the fund says what
  that is worth.
* every other asset is valued at its **latest daily close** (``price_source="close"``), however
  old: the price's time (``price_at``, the start of the bar's UTC day or of the NAV's day) says
  how old.
* an asset held with neither is **unpriced**: listed in :attr:`Valuation.unpriced`, its value,
  unrealized P&L and weight left None and left out of every total (never valued at 0).

Money is exact: the store serves float64 prices, each turned into a ``Decimal`` through its
shortest round-tripping text (``Decimal(str(close))``: 1.1 becomes ``Decimal("1.1")``, not the
binary fraction ``1.100000000000000088817841970012523...``), and values, costs and P&L are
``Decimal`` products and sums computed with :data:`PRECISION` digits (no rounding at the
stored 18 decimals of a quantity times a 17-digit price). Weights are floats (shares of the
priced market value). Two store reads for every asset at once (kept per snapshot where the store
allows), plus the asset reference.

Entry point for the other portfolio modules (risk, reports, the page)::

    value(store, ledger, cost_method=CostMethod.FIFO) -> Valuation
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from api.portfolios.ledger import ZERO, CostMethod, Holding, Ledger, Trade, TransactionKind
from pipelines.contracts.reference import Asset
from pipelines.contracts.served import OHLCV, ONCHAIN
from pipelines.serving.store import ServingStore

PriceSource = Literal["close", "nav"]
#: How long a published NAV stays the asset's price: past it, the close is used (a fund whose
#: NAV feed stopped a month ago is better valued at what it trades at).
NAV_MAX_AGE = dt.timedelta(days=31)
#: The daily bars a valuation reads.
DAILY = "1d"
#: Digits money is computed with (as the ledger does): products and sums stay exact.
PRECISION = 60
#: The group name of assets whose reference lacks the grouped fact (or that left the reference).
UNKNOWN = "unknown"
#: The allocations a valuation gives: by asset, then by reference facts.
Grouping = Literal["asset", "asset_class", "network", "issuer"]
GROUPINGS: tuple[Grouping, ...] = ("asset", "asset_class", "network", "issuer")


@dataclass(frozen=True, slots=True)
class Price:
    """An asset's price per unit, where it came from and the day it is of."""

    asset_id: str
    value: Decimal
    source: PriceSource
    #: Start (UTC) of the bar's day for a close, of the on-chain row's day for a NAV.
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Position:
    """One held asset: its reference facts, the ledger's holding and its value now."""

    asset_id: str
    symbol: str | None
    name: str | None
    asset_class: str
    network: str
    issuer: str
    quantity: Decimal
    cost_basis: Decimal
    average_cost: Decimal | None
    realized_pnl: Decimal
    fees: Decimal
    price: Price | None
    #: quantity x price; None when unpriced.
    market_value: Decimal | None
    #: market value - cost basis; None when unpriced.
    unrealized_pnl: Decimal | None
    #: Share of the portfolio's priced market value; None when unpriced.
    weight: float | None


@dataclass(frozen=True, slots=True)
class Slice:
    """One group of an allocation: its priced market value and share of the total."""

    key: str
    market_value: Decimal
    weight: float
    assets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Valuation:
    cost_method: CostMethod
    #: The newest price time among the positions (None: nothing priced).
    as_of: dt.datetime | None
    #: Held assets (quantity > 0), by asset id.
    positions: tuple[Position, ...]
    #: Sum of the priced positions' market values.
    market_value: Decimal
    #: Cost basis of every held position (priced or not).
    cost_basis: Decimal
    #: Market value - cost basis of the priced positions.
    unrealized_pnl: Decimal
    #: Every trade's realized P&L, of held and of closed assets (the ledger's).
    realized_pnl: Decimal
    #: Cost of everything that ever came in: buys with their fees, transfers in at their
    #: carried cost basis. What total return is measured against.
    invested: Decimal
    #: Fees paid on every trade.
    fees: Decimal
    #: Held assets without a price: left out of the value, unrealized P&L and weights.
    unpriced: tuple[str, ...]
    #: By grouping, the groups by descending value (then key).
    allocation: Mapping[Grouping, tuple[Slice, ...]]

    @property
    def total_pnl(self) -> Decimal:
        """Realized plus unrealized P&L (FIFO and average cost split it differently; the
        total is the same)."""
        return self.realized_pnl + self.unrealized_pnl

    @property
    def total_return(self) -> float | None:
        """Total P&L over what was invested; None when nothing was."""
        return float(self.total_pnl / self.invested) if self.invested else None

    @property
    def complete(self) -> bool:
        """Whether every held asset is priced (else the totals leave some out)."""
        return not self.unpriced


def value(
    store: ServingStore,
    ledger: Ledger,
    cost_method: CostMethod = CostMethod.FIFO,
    assets: Mapping[str, Asset] | None = None,
) -> Valuation:
    """The valuation of ``ledger`` (replayed with ``cost_method``, which is only reported) at
    the latest served prices. ``assets``: the asset reference by id, when the caller has read
    it already (else one ``list_assets`` read)."""
    held = {a: h for a, h in sorted(ledger.holdings.items()) if h.quantity > 0}
    prices = latest_prices(store, list(held))
    reference = assets if assets is not None else {a.asset_id: a for a in store.list_assets()}
    with decimal.localcontext() as context:
        context.prec = PRECISION
        unweighted = [_position(h, reference.get(a), prices.get(a)) for a, h in held.items()]
        market_value = sum((p.market_value or ZERO for p in unweighted), ZERO)
        positions = tuple(_weighted(p, market_value) for p in unweighted)
        return Valuation(
            cost_method=cost_method,
            as_of=max((p.price.at for p in positions if p.price), default=None),
            positions=positions,
            market_value=market_value,
            cost_basis=sum((p.cost_basis for p in positions), ZERO),
            unrealized_pnl=sum((p.unrealized_pnl or ZERO for p in positions), ZERO),
            realized_pnl=ledger.realized_pnl,
            invested=invested(ledger),
            fees=sum((h.fees for h in ledger.holdings.values()), ZERO),
            unpriced=tuple(p.asset_id for p in positions if p.price is None),
            allocation=allocation(positions, market_value),
        )


def invested(ledger: Ledger) -> Decimal:
    """Cost of every unit that came in (:func:`cost_in` summed over the trades)."""
    with decimal.localcontext() as context:
        context.prec = PRECISION
        return sum((cost_in(step.trade) for step in ledger.steps), ZERO)


def cost_in(trade: Trade) -> Decimal:
    """What a trade put in: a buy's quantity x price + fee, a transfer in's quantity x carried
    price (its fee is a realized loss, not a cost of the units); nothing for the others."""
    if not trade.kind.adds or trade.price is None:
        return ZERO
    fee = trade.fee if trade.kind is TransactionKind.BUY else ZERO
    return trade.quantity * trade.price + fee


def latest_prices(store: ServingStore, asset_ids: list[str]) -> dict[str, Price]:
    """Each asset's price by the rule of this module; assets with none are absent."""
    wanted = set(asset_ids)
    if not wanted:
        return {}
    closes, navs = store.memoised(("portfolio price rows",), lambda: _newest_prices(store))
    newest = max((p.at for a, p in (*closes.items(), *navs.items()) if a in wanted), default=None)
    prices = {a: p for a, p in closes.items() if a in wanted}
    for asset_id, nav in navs.items():
        if asset_id in wanted and newest is not None and nav.at >= newest - NAV_MAX_AGE:
            prices[asset_id] = nav
    return prices


def _newest_prices(store: ServingStore) -> tuple[dict[str, Price], dict[str, Price]]:
    """Every asset's latest daily close and latest NAV of its newest on-chain rows: two reads
    for every asset at once, kept per snapshot where the store allows (the same for every
    portfolio)."""
    bars = store.newest_rows(OHLCV).select(["asset_id", "resolution", "ts", "close"])
    closes = {
        row["asset_id"]: Price(row["asset_id"], to_decimal(row["close"]), "close", row["ts"])
        for row in bars.to_pylist()
        if row["resolution"] == DAILY
    }
    navs: dict[str, Price] = {}
    rows = store.newest_rows(ONCHAIN, NAV_MAX_AGE).select(["asset_id", "ts", "nav_usd"])
    for row in rows.to_pylist():  # by asset, then time: an asset's last NAV wins
        if row["nav_usd"] is not None:
            navs[row["asset_id"]] = Price(
                row["asset_id"], to_decimal(row["nav_usd"]), "nav", row["ts"]
            )
    return closes, navs


def to_decimal(price: float) -> Decimal:
    """A served float price as the decimal it was written as (its shortest repr)."""
    return Decimal(str(price))


def _position(holding: Holding, asset: Asset | None, price: Price | None) -> Position:
    worth = None if price is None else holding.quantity * price.value
    return Position(
        asset_id=holding.asset_id,
        symbol=asset.symbol if asset else None,
        name=asset.name if asset else None,
        asset_class=asset.asset_class if asset else UNKNOWN,
        network=asset.blockchain_network if asset else UNKNOWN,
        issuer=(asset.issuer_name if asset else None) or UNKNOWN,
        quantity=holding.quantity,
        cost_basis=holding.cost_basis,
        average_cost=holding.average_cost,
        realized_pnl=holding.realized_pnl,
        fees=holding.fees,
        price=price,
        market_value=worth,
        unrealized_pnl=None if worth is None else worth - holding.cost_basis,
        weight=None,
    )


def _weighted(position: Position, total: Decimal) -> Position:
    if position.market_value is None:
        return position
    return replace(position, weight=float(position.market_value / total) if total else 0.0)


_KEYS: dict[Grouping, Callable[[Position], str]] = {
    "asset": lambda p: p.asset_id,
    "asset_class": lambda p: p.asset_class,
    "network": lambda p: p.network,
    "issuer": lambda p: p.issuer,
}


def allocation(positions: Iterable[Position], total: Decimal) -> dict[Grouping, tuple[Slice, ...]]:
    """The priced positions' value grouped by each of :data:`GROUPINGS`."""
    priced = [p for p in positions if p.market_value is not None]
    result: dict[Grouping, tuple[Slice, ...]] = {}
    for grouping in GROUPINGS:
        groups: dict[str, list[Position]] = {}
        for position in priced:
            groups.setdefault(_KEYS[grouping](position), []).append(position)
        slices = [_slice(key, members, total) for key, members in groups.items()]
        result[grouping] = tuple(sorted(slices, key=lambda s: (-s.market_value, s.key)))
    return result


def _slice(key: str, members: list[Position], total: Decimal) -> Slice:
    with decimal.localcontext() as context:
        context.prec = PRECISION
        worth = sum((p.market_value or ZERO for p in members), ZERO)
    share = float(worth / total) if total else 0.0
    return Slice(key, worth, share, tuple(p.asset_id for p in members))
