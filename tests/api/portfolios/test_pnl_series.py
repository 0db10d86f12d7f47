"""The daily value and P&L series against hand-computed days (the data and trades of
tests/api/portfolios/served_prices.py), on both serving stores.

FIFO, day by day at the close:

* day 0: 1 BTC at 40000 = 40000, cost 40010: -10 unrealized.
* day 1: 1.5 BTC at 41000 + 100 OUSG at the NAV 100.2 = 61500 + 10020 = 71520; cost 60515 +
  10021 = 70536: +984.
* day 2: 0.9 BTC at 39000 + 100 OUSG at 100.3 = 45130 against 36509 + 10021 = 46530: -1400;
  USDC (cost 1000) unpriced; realized -609 - 2 = -611.
* day 3: 0.9 x 42000.5 + 60 x 100.4 = 43824.45 against 42521.6: +1302.85; BCRED (bought that
  day, no close before day 4) unpriced too; realized -611.5.
* day 4: the valuation's 44979.09, +2207.49 unrealized, -611.5 realized.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from api.portfolios.history import COLUMNS, pnl_series
from api.portfolios.ledger import CostMethod, Trade, TransactionKind, replay
from api.portfolios.valuation import value
from pipelines.serving.store import ServingStore
from tests.api.portfolios.served_prices import DAY, T0, TRADES, load

#: (market value, cost basis, unrealized, realized, invested, unpriced) per day, FIFO.
FIFO_DAYS = [
    (40000.0, 40010.0, -10.0, 0.0, 40010.0, 0),
    (71520.0, 70536.0, 984.0, 0.0, 70536.0, 0),
    (45130.0, 47530.0, -1400.0, -611.0, 71536.0, 1),
    (43824.45, 43771.6, 1302.85, -611.5, 71786.0, 2),
    (44979.09, 43771.6, 2207.49, -611.5, 71786.0, 1),
]


@pytest.fixture(scope="module")
def loaded(module_store: ServingStore) -> ServingStore:
    load(module_store)
    return module_store


def _rows(frame: pd.DataFrame) -> list[tuple[float, ...]]:
    picked = frame[["market_value", "cost_basis", "unrealized_pnl", "realized_pnl", "invested"]]
    return [
        (*row, n) for row, n in zip(picked.itertuples(index=False), frame["unpriced"], strict=True)
    ]


def test_each_day_is_valued_at_its_close_or_nav(loaded: ServingStore) -> None:
    series = pnl_series(loaded, replay(TRADES, CostMethod.FIFO))
    assert list(series.columns) == list(COLUMNS)
    assert [d.date() for d in series.index] == [(T0 + i * DAY).date() for i in range(5)]
    assert _rows(series) == [pytest.approx(day) for day in FIFO_DAYS]
    total = series["realized_pnl"] + series["unrealized_pnl"]
    assert series["total_pnl"].tolist() == pytest.approx(total.tolist())


def test_average_cost_moves_pnl_between_realized_and_unrealized_only(
    loaded: ServingStore,
) -> None:
    fifo = pnl_series(loaded, replay(TRADES, CostMethod.FIFO))
    average = pnl_series(loaded, replay(TRADES, CostMethod.AVERAGE))
    # From the sale on day 2, average cost took 200 more cost out: 200 less realized, 200 more
    # unrealized, the same total and value every day.
    assert average["realized_pnl"].tolist() == pytest.approx([0, 0, -811, -811.5, -811.5])
    assert (fifo["unrealized_pnl"] - average["unrealized_pnl"]).tolist() == pytest.approx(
        [0, 0, -200, -200, -200]
    )
    assert average["total_pnl"].tolist() == pytest.approx(fifo["total_pnl"].tolist())
    assert average["market_value"].tolist() == fifo["market_value"].tolist()


def test_the_last_day_matches_the_exact_valuation(loaded: ServingStore) -> None:
    for method in CostMethod:
        ledger = replay(TRADES, method)
        last, exact = pnl_series(loaded, ledger).iloc[-1], value(loaded, ledger, method)
        assert last["market_value"] == pytest.approx(float(exact.market_value), rel=1e-12)
        assert last["total_pnl"] == pytest.approx(float(exact.total_pnl), rel=1e-12)
        assert last["unpriced"] == len(exact.unpriced)


def test_a_window_keeps_its_days_inclusive(loaded: ServingStore) -> None:
    ledger = replay(TRADES, CostMethod.FIFO)
    window = pnl_series(loaded, ledger, (T0 + DAY).date(), (T0 + 2 * DAY).date())
    assert _rows(window) == [pytest.approx(day) for day in FIFO_DAYS[1:3]]
    assert pnl_series(loaded, ledger, (T0 + 3 * DAY).date(), T0.date()).empty


def test_trades_after_the_last_served_day_extend_it_at_carried_prices(
    loaded: ServingStore,
) -> None:
    later = T0 + 6 * DAY + dt.timedelta(hours=9)
    buy = Trade(TransactionKind.BUY, "btc", Decimal(2), Decimal(43000), Decimal(0), later, 1)
    series = pnl_series(loaded, replay([buy], CostMethod.FIFO))
    assert [d.date() for d in series.index] == [later.date()]
    assert series["market_value"].tolist() == pytest.approx([2 * 43000.1])  # day 4's close


def test_a_ledger_without_trades_has_no_days(loaded: ServingStore) -> None:
    series = pnl_series(loaded, replay([], CostMethod.FIFO))
    assert series.empty and list(series.columns) == list(COLUMNS)
