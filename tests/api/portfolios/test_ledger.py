"""The ledger (api.portfolios.ledger) against hand-computed cases: partial sells, fees,
transfers in and out with gas, FIFO against average cost on the same trades, selling
everything, many lots, 18-decimal exactness, and the replay order of trades at one instant."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from api.portfolios.ledger import CostMethod, OversoldError, Trade, TransactionKind, replay
from api.portfolios.schemas import render

FIFO, AVERAGE = CostMethod.FIFO, CostMethod.AVERAGE
BUY, SELL = TransactionKind.BUY, TransactionKind.SELL
IN, OUT = TransactionKind.TRANSFER_IN, TransactionKind.TRANSFER_OUT
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def at(day: int) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


def t(
    kind: TransactionKind,
    quantity: str,
    price: str | None,
    day: int,
    fee: str = "0",
    asset: str = "btc",
    id: int | None = None,
) -> Trade:
    return Trade(
        kind,
        asset,
        Decimal(quantity),
        None if price is None else Decimal(price),
        Decimal(fee),
        at(day),
        id,
    )


#: Two lots then a partial sale: 10 @ 100 (+5 fee), 10 @ 200 (+5), sell 15 @ 300 (-15).
TWO_LOTS = [
    t(BUY, "10", "100", 1, "5"),
    t(BUY, "10", "200", 2, "5"),
    t(SELL, "15", "300", 3, "15"),
]


def test_fifo_takes_the_oldest_lots_first_fees_in_the_cost() -> None:
    ledger = replay(TWO_LOTS, FIFO)
    btc = ledger.holdings["btc"]
    # Cost taken: all of lot 1 (1005) and half of lot 2 (2005 / 2); proceeds 4500 - 15.
    assert btc.quantity == 5
    assert btc.cost_basis == Decimal("1002.5")
    assert btc.average_cost == Decimal("200.5")
    assert (
        btc.realized_pnl
        == Decimal("4485") - Decimal("1005") - Decimal("1002.5")
        == Decimal("2477.5")
    )
    assert btc.fees == 25
    assert [s.quantity for s in ledger.steps] == [10, 20, 5]
    assert [s.realized_pnl for s in ledger.steps] == [0, 0, Decimal("2477.5")]


def test_average_cost_on_the_same_trades() -> None:
    btc = replay(TWO_LOTS, AVERAGE).holdings["btc"]
    # 20 units cost 3010: 150.5 each; 15 of them cost 2257.5.
    assert btc.quantity == 5
    assert btc.cost_basis == Decimal("752.5")
    assert btc.average_cost == Decimal("150.5")
    assert btc.realized_pnl == Decimal("4485") - Decimal("2257.5") == Decimal("2227.5")


def test_a_second_partial_sale_continues_where_the_first_left() -> None:
    trades = [*TWO_LOTS, t(SELL, "4", "250", 4, "2")]
    fifo = replay(trades, FIFO).holdings["btc"]
    # 4 of the 5 left of lot 2 (200.5 each): 802; proceeds 998.
    assert (fifo.quantity, fifo.cost_basis) == (1, Decimal("200.5"))
    assert fifo.realized_pnl == Decimal("2477.5") + Decimal("998") - Decimal("802")
    average = replay(trades, AVERAGE).holdings["btc"]
    assert (average.quantity, average.cost_basis) == (1, Decimal("150.5"))
    assert average.realized_pnl == Decimal("2227.5") + Decimal("998") - Decimal("602")


def test_transfers_move_cost_not_profit_and_their_gas_is_a_loss() -> None:
    trades = [
        t(IN, "5", "100", 1, "1"),  # arrives at its carried cost of 100 a unit; gas 1
        t(BUY, "5", "120", 2, "0"),
        t(OUT, "6", None, 3, "0.5"),  # leaves at cost: 5 @ 100 and 1 @ 120 (FIFO)
    ]
    fifo = replay(trades, FIFO)
    eth = fifo.holdings["btc"]
    assert (eth.quantity, eth.cost_basis) == (4, Decimal("480"))
    assert eth.realized_pnl == Decimal("-1.5")
    assert eth.fees == Decimal("1.5")
    assert [s.realized_pnl for s in fifo.steps] == [Decimal("-1"), 0, Decimal("-0.5")]
    average = replay(trades, AVERAGE).holdings["btc"]
    # 10 units cost 1100: 6 leave at 660.
    assert (average.quantity, average.cost_basis, average.realized_pnl) == (4, 440, Decimal("-1.5"))


def test_selling_everything_leaves_nothing_and_no_average() -> None:
    trades = [t(BUY, "2", "10", 1, "1"), t(BUY, "1", "40", 2), t(SELL, "3", "30", 3, "3")]
    for method in (FIFO, AVERAGE):
        btc = replay(trades, method).holdings["btc"]
        assert (btc.quantity, btc.cost_basis, btc.average_cost) == (0, 0, None)
        assert btc.realized_pnl == Decimal("87") - Decimal("61")  # the same whatever the method


def test_many_lots_are_taken_in_order() -> None:
    buys = [t(BUY, "1", str(price), price) for price in range(1, 101)]
    ledger = replay([*buys, t(SELL, "50.5", "100", 200)], FIFO)
    btc = ledger.holdings["btc"]
    taken = sum(range(1, 51)) + Decimal("0.5") * 51  # lots 1..50, half of lot 51
    assert btc.quantity == Decimal("49.5")
    assert btc.cost_basis == sum(range(1, 101)) - taken
    assert btc.realized_pnl == Decimal("5050") - taken


def test_eighteen_decimals_stay_exact() -> None:
    tiny, big = "0.000000000000000001", "12345678901234567890.123456789012345678"
    trades = [
        t(BUY, big, "1", 1, tiny),
        t(BUY, tiny, "3", 2),
        t(SELL, tiny, "7", 3),  # FIFO: one unit of the first lot, at its cost of ~1
        t(BUY, "3", "1", 4, "1", asset="usdc"),
        t(SELL, "1", "2", 5, asset="usdc"),  # average cost 4/3: not a finite decimal
        t(SELL, "2", "2", 6, asset="usdc"),
    ]
    ledger = replay(trades, AVERAGE)
    btc = ledger.holdings["btc"]
    assert btc.quantity == Decimal(big)
    assert ledger.holdings["usdc"].realized_pnl == 2  # 6 of proceeds, 4 of cost: exactly
    assert ledger.holdings["usdc"].cost_basis == 0
    fifo = replay(trades[:3], FIFO).holdings["btc"]
    assert fifo.quantity == Decimal(big)
    # One tiny unit of the first lot (cost big + tiny) costs tiny * (1 + tiny / big): what is
    # left, with the second lot, is big + 3 tiny to the stored 18 decimals.
    assert render(fifo.cost_basis) == "12345678901234567890.123456789012345681"


def test_trades_at_one_instant_replay_by_id_and_new_ones_last() -> None:
    same = 3
    sell_first = [t(BUY, "1", "1", same, id=2), t(SELL, "1", "1", same, id=1)]
    with pytest.raises(OversoldError) as refused:
        replay(sell_first, FIFO)
    assert refused.value.trade.id == 1 and refused.value.held == 0
    assert "sell of 1 btc" in str(refused.value) and "exceeds the 0 held then" in str(refused.value)
    buy_first = [t(SELL, "1", "1", same, id=2), t(BUY, "1", "1", same, id=1)]
    assert replay(buy_first, FIFO).holdings["btc"].quantity == 0
    # A trade not stored yet (no id) goes after the stored ones of its instant.
    pending = [t(SELL, "1", "1", same), t(BUY, "1", "1", same, id=9)]
    assert replay(pending, FIFO).holdings["btc"].quantity == 0


def test_an_oversale_names_the_trade_and_what_was_held() -> None:
    with pytest.raises(OversoldError) as refused:
        replay([t(BUY, "1", "1", 1), t(OUT, "1.5", None, 2, id=7)], AVERAGE)
    assert (refused.value.trade.id, refused.value.held) == (7, 1)


@pytest.mark.parametrize(
    ("kind", "quantity", "price", "fee"),
    [(BUY, "0", "1", "0"), (BUY, "1", "1", "-1"), (SELL, "1", None, "0"), (BUY, "1", "-1", "0")],
)
def test_a_trade_that_cannot_be_is_refused(
    kind: TransactionKind, quantity: str, price: str | None, fee: str
) -> None:
    with pytest.raises(ValueError, match=r"must|needs"):
        t(kind, quantity, price, 1, fee)
