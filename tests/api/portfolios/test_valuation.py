"""Valuation against hand-computed numbers (tests/api/portfolios/served_prices.py gives the data
and the arithmetic), on both serving stores: one store per backend for the module, read only.

FIFO: BTC 1.5 for 60515, 0.6 sold at 39000 - 3 = 23397 against the first lot's 0.6 x 40010 =
24006: -609 realized; 0.9 left for 36509. Average cost: 0.6 x 60515 / 1.5 = 24206 out: -809;
0.9 left for 36309. OUSG: 100 for 10021, 40 out at 4008.4 (gas -0.5): 60 for 6012.6. USDC: 1000
for 1000 (gas -2). BCRED: 10 for 250.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.portfolios.ledger import CostMethod, replay
from api.portfolios.valuation import NAV_MAX_AGE, Valuation, to_decimal, value
from pipelines.serving.store import ServingStore
from tests.api.portfolios.served_prices import DAY, T0, TRADES, load


@pytest.fixture(scope="module")
def loaded(module_store: ServingStore) -> ServingStore:
    load(module_store)
    return module_store


@pytest.fixture(scope="module")
def fifo(loaded: ServingStore) -> Valuation:
    return value(loaded, replay(TRADES, CostMethod.FIFO), CostMethod.FIFO)


@pytest.fixture(scope="module")
def average(loaded: ServingStore) -> Valuation:
    return value(loaded, replay(TRADES, CostMethod.AVERAGE), CostMethod.AVERAGE)


def test_each_position_is_priced_by_the_rule_and_says_how(fifo: Valuation) -> None:
    positions = {p.asset_id: p for p in fifo.positions}
    assert list(positions) == ["bcred", "btc", "ousg", "usdc"]
    btc, ousg, bcred, usdc = (positions[a] for a in ("btc", "ousg", "bcred", "usdc"))
    assert btc.price is not None and ousg.price is not None and bcred.price is not None
    # BTC: its last close, day 4.
    assert (btc.price.value, btc.price.source, btc.price.at) == (
        Decimal("43000.1"),
        "close",
        T0 + 4 * DAY,
    )
    # OUSG: day 3's NAV (day 4's on-chain row has none), not its close at a premium.
    assert (ousg.price.value, ousg.price.source, ousg.price.at) == (
        Decimal("100.4"),
        "nav",
        T0 + 3 * DAY,
    )
    # BCRED: its NAV is 44 days older than the valuation's day: the close instead.
    assert (bcred.price.value, bcred.price.source) == (Decimal("25.5"), "close")
    assert usdc.price is None and usdc.market_value is None and usdc.weight is None
    assert btc.market_value == Decimal("0.9") * Decimal("43000.1") == Decimal("38700.09")
    assert ousg.market_value == Decimal("6024.0")
    assert btc.unrealized_pnl == Decimal("38700.09") - Decimal("36509")
    assert ousg.unrealized_pnl == Decimal("11.4")
    assert bcred.unrealized_pnl == Decimal("5.0")
    assert (usdc.quantity, usdc.cost_basis, usdc.realized_pnl) == tuple(
        map(Decimal, (1000, 1000, -2))
    )
    assert fifo.as_of == T0 + 4 * DAY
    assert NAV_MAX_AGE < 44 * DAY


def test_totals_leave_the_unpriced_asset_out_and_say_so(fifo: Valuation) -> None:
    assert fifo.unpriced == ("usdc",) and not fifo.complete
    assert fifo.market_value == Decimal("38700.09") + Decimal("6024") + Decimal("255")
    # Cost basis counts every held unit; unrealized P&L only the priced ones.
    assert fifo.cost_basis == Decimal("36509") + Decimal("6012.6") + 1000 + 250
    assert fifo.unrealized_pnl == Decimal("2191.09") + Decimal("11.4") + 5
    assert fifo.realized_pnl == Decimal("-609") - Decimal("0.5") - 2
    assert fifo.total_pnl == Decimal("1595.99")
    assert fifo.invested == 40010 + 20505 + 10021 + 1000 + 250
    assert fifo.fees == Decimal("21.5")
    assert fifo.total_return == pytest.approx(1595.99 / 71786)


def test_fifo_and_average_cost_split_the_same_total_differently(
    fifo: Valuation, average: Valuation
) -> None:
    assert average.realized_pnl == Decimal("-811.5")
    assert average.unrealized_pnl == Decimal("2407.49")
    assert fifo.realized_pnl - average.realized_pnl == 200  # 24206 - 24006 of cost taken out
    assert average.total_pnl == fifo.total_pnl == Decimal("1595.99")
    assert average.market_value == fifo.market_value
    assert average.cost_method is CostMethod.AVERAGE


def test_allocation_by_asset_class_network_and_issuer(fifo: Valuation) -> None:
    total = 44979.09
    by = {g: [(s.key, s.market_value) for s in fifo.allocation[g]] for g in fifo.allocation}
    assert by["asset"] == [
        ("btc", Decimal("38700.09")),
        ("ousg", Decimal("6024.0")),
        ("bcred", Decimal("255.0")),
    ]
    weights = [s.weight for s in fifo.allocation["asset"]]
    assert weights == pytest.approx([38700.09 / total, 6024 / total, 255 / total])
    assert by["network"] == [
        ("bitcoin", Decimal("38700.09")),
        ("ethereum", Decimal("6279.0")),
    ]
    assert [k for k, _ in by["asset_class"]] == [
        "crypto",
        "tokenized_treasury",
        "private_credit",
    ]
    assert [k for k, _ in by["issuer"]] == ["unknown", "Ondo Finance", "Credit Co"]
    for slices in fifo.allocation.values():
        assert sum(s.weight for s in slices) == pytest.approx(1.0)
    network = {s.key: s.assets for s in fifo.allocation["network"]}
    assert network["ethereum"] == ("bcred", "ousg")  # by asset id


def test_a_portfolio_with_nothing_held_is_worth_nothing(loaded: ServingStore) -> None:
    empty = value(loaded, replay([], CostMethod.FIFO))
    assert empty.market_value == 0 and empty.positions == () and empty.as_of is None
    assert empty.total_return is None and empty.complete
    assert all(slices == () for slices in empty.allocation.values())


def test_a_served_float_becomes_the_decimal_it_was_written_as() -> None:
    assert to_decimal(1.1) == Decimal("1.1")
    assert to_decimal(43000.1) * 3 == Decimal("129000.3")  # not 129000.30000000000291...
    assert to_decimal(1e-7) == Decimal("1E-7")


def test_an_asset_missing_from_the_reference_is_grouped_as_unknown(loaded: ServingStore) -> None:
    found = value(loaded, replay(TRADES, CostMethod.FIFO), assets={})  # a reference without them
    btc = next(p for p in found.positions if p.asset_id == "btc")
    assert (btc.symbol, btc.asset_class, btc.network, btc.issuer) == (None, *["unknown"] * 3)
    assert btc.market_value == Decimal("38700.09")  # still priced: prices are by asset id
    assert [s.key for s in found.allocation["network"]] == ["unknown"]
