"""A portfolio's value and P&L as a daily series, from its first transaction to the latest
served day.

Each day is valued at its close: the positions after every trade executed that UTC day (the
ledger's steps: quantity and cost basis per asset, realized P&L per trade) times that day's
price, by :mod:`api.portfolios.valuation`'s rule applied per day: the asset's NAV where the
on-chain data published one within :data:`~api.portfolios.valuation.NAV_MAX_AGE` before the
day, else its last daily close on or before the day; a held asset with neither is unpriced that
day (counted in ``unpriced``, left out of ``market_value`` and ``unrealized_pnl``, as the
valuation does). Prices older than that window before the first trade are not read, so a close
carried into the first days must be at most that old.

Vectorised: the steps and the prices become day x asset frames (pandas), carried forward and
multiplied whole; two store reads (the daily bars and the on-chain rows of every asset the
ledger ever held, :meth:`~pipelines.serving.store.ServingStore.panel`), kept per snapshot where
the store allows. A chart series: float64,
within float rounding of the exact valuation (whose last day it matches).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import pandas as pd
import pyarrow as pa

from api.portfolios.ledger import Ledger
from api.portfolios.valuation import DAILY, NAV_MAX_AGE, cost_in
from pipelines.contracts.served import OHLCV, ONCHAIN
from pipelines.serving.store import ServingStore

#: The series' columns, by day (the index, ``day``):
COLUMNS: Final = (
    "market_value",  # priced held positions x the day's price
    "cost_basis",  # of every held position
    "unrealized_pnl",  # market value - cost basis of the priced positions
    "realized_pnl",  # cumulative, every trade up to the day
    "total_pnl",  # realized + unrealized
    "invested",  # cumulative cost of everything that came in (buys with fees, transfers in)
    "unpriced",  # held assets without a price that day
)


def pnl_series(
    store: ServingStore,
    ledger: Ledger,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """The daily series of :data:`COLUMNS` for ``start <= day <= end`` (each bound optional)
    within the ledger's span; empty (same columns) for a ledger without trades."""
    if not ledger.steps:
        return _empty()
    assets = sorted(ledger.holdings)
    first = utc_day(ledger.steps[0].trade.at)
    since = dt.datetime.combine(first, dt.time(), dt.UTC) - NAV_MAX_AGE
    closes, navs = store.memoised(
        ("portfolio price panel", tuple(assets), since), lambda: _price_panel(store, assets, since)
    )
    steps = _steps(ledger)
    last = max([steps.index.max(), *(f.index.max() for f in (closes, navs) if not f.empty)])
    days = pd.date_range(since.date(), last, freq="D", name="day")
    calendar = pd.date_range(first, last, freq="D", name="day")
    limit = NAV_MAX_AGE.days
    price = _on(navs, days, assets).ffill(limit=limit)
    price = price.fillna(_on(closes, days, assets).ffill()).loc[calendar]
    series = _values(steps, price, calendar, assets)
    low = pd.Timestamp(start) if start else calendar[0]
    high = pd.Timestamp(end) if end else calendar[-1]
    return series.loc[(series.index >= low) & (series.index <= high)]


def utc_day(at: dt.datetime) -> dt.date:
    """The UTC day of an instant (a naive one is UTC already, as the store takes it)."""
    return (at if at.tzinfo is None else at.astimezone(dt.UTC)).date()


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    frame.index = pd.DatetimeIndex([], name="day")
    return frame.astype({"unpriced": "int64"})


def _price_panel(
    store: ServingStore, assets: list[str], since: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The daily closes and the NAVs of ``assets`` since ``since``, as day x asset frames:
    kept per snapshot where the store allows, so a portfolio's chart redrawn on the same data
    reads and pivots nothing (about half of the series' time)."""
    closes = _wide(store.panel(OHLCV, assets, since, where={"resolution": DAILY}), "close")
    navs = _wide(store.panel(ONCHAIN, assets, since), "nav_usd")
    return closes, navs


def _wide(rows: pa.Table, column: str) -> pd.DataFrame:
    """``column`` of a panel's rows as a day x asset frame (nulls dropped)."""
    frame = rows.select(["asset_id", "ts", column]).to_pandas()
    frame = frame.dropna(subset=[column])
    frame["day"] = frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    # The last row of a day per asset (rows come in time order); a plain pivot on unique
    # pairs costs a fraction of pivot_table's grouping, the largest part of /pnl's time.
    frame = frame.drop_duplicates(["day", "asset_id"], keep="last")
    return frame.pivot(index="day", columns="asset_id", values=column)


def _on(frame: pd.DataFrame, days: pd.DatetimeIndex, assets: list[str]) -> pd.DataFrame:
    return frame.reindex(index=days, columns=assets).astype("float64")


def _steps(ledger: Ledger) -> pd.DataFrame:
    """One row per trade: its UTC day, asset, the position after it and what it realized and
    invested, indexed by day."""
    records = []
    for step in ledger.steps:
        trade = step.trade
        records.append(
            {
                "day": pd.Timestamp(utc_day(trade.at)),
                "asset_id": trade.asset_id,
                "quantity": float(step.quantity),
                "cost_basis": float(step.cost_basis),
                "realized": float(step.realized_pnl),
                "invested": float(cost_in(trade)),
            }
        )
    return pd.DataFrame.from_records(records).set_index("day")


def _values(
    steps: pd.DataFrame, price: pd.DataFrame, calendar: pd.DatetimeIndex, assets: list[str]
) -> pd.DataFrame:
    """The series from the steps and the day x asset prices."""

    def held(column: str) -> pd.DataFrame:
        last = steps.groupby(["day", "asset_id"])[column].last().unstack("asset_id")
        return last.reindex(index=calendar, columns=assets).ffill().fillna(0.0)

    quantity, cost = held("quantity"), held("cost_basis")
    holding, priced = quantity > 0, price.notna()
    counted = holding & priced
    market_value = (quantity * price).where(counted).sum(axis=1)
    flows = steps.groupby(level="day")[["realized", "invested"]].sum()
    flows = flows.reindex(calendar, fill_value=0.0).cumsum()
    unrealized = market_value - cost.where(counted).sum(axis=1)
    return pd.DataFrame(
        {
            "market_value": market_value,
            "cost_basis": cost.where(holding).sum(axis=1),
            "unrealized_pnl": unrealized,
            "realized_pnl": flows["realized"],
            "total_pnl": flows["realized"] + unrealized,
            "invested": flows["invested"],
            "unpriced": (holding & ~priced).sum(axis=1).astype("int64"),
        },
        index=calendar,
    )
