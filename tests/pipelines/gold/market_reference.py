"""``gold/market_daily`` worked out again, independently: day by day per asset in plain Python
over pandas frames of the gold tables it is built from (docs/api.md states the rules)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from pipelines.contracts.measures import ACCUMULATING_CLASSES, STALE_AFTER_DAYS

STOCKS = {"price": "price_usd", "nav": "nav_usd", "supply": "total_supply", "holders": "holders"}
FLOWS = ("transfer_count", "transfer_volume_usd", "minted_usd", "burned_usd", "net_flow_usd")


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _yield(history: list[dict[str, Any]], column: str, short: str) -> float | None:
    if len(history) <= 7:
        return None
    now, before = history[-1], history[-8]
    if not (_known(now[column]) and _known(before[column])) or before[column] <= 0:
        return None
    span = (now[f"{short}_as_of"] - before[f"{short}_as_of"]).days
    if span < 4:
        return None
    return float((now[column] / before[column]) ** (365 / span) - 1)


def _finish(row: dict[str, Any], history: list[dict[str, Any]], accumulating: bool) -> None:
    """Values, yield, as-of and staleness of the row just carried (the last of history)."""
    supply, price, nav = row["total_supply"], row["price_usd"], row["nav_usd"]
    row["market_value_usd"] = supply * price if _known(supply) and _known(price) else None
    row["asset_value_usd"] = supply * nav if _known(supply) and _known(nav) else None
    known_value = row["asset_value_usd"] if _known(row["asset_value_usd"]) else None
    row["value_usd"] = known_value if known_value is not None else row["market_value_usd"]
    premium = _known(nav) and nav > 0 and _known(price)
    row["premium_to_nav"] = price / nav - 1 if premium else None
    by_nav, by_price = _yield(history, "nav_usd", "nav"), _yield(history, "price_usd", "price")
    method = None
    if accumulating:
        method = "nav" if by_nav is not None else "price" if by_price is not None else None
    row["yield_method"] = method
    row["yield_7d"] = {"nav": by_nav, "price": by_price, None: None}[method]
    spread = row["yield_7d"] is not None and row["tbill_3m"] is not None
    row["yield_spread"] = row["yield_7d"] - row["tbill_3m"] if spread else None
    row["utilization"] = None
    as_ofs = [row[f"{short}_as_of"] for short in STOCKS if row[f"{short}_as_of"] is not None]
    row["as_of"] = min(as_ofs) if as_ofs else None
    row["stale"] = row["as_of"] is None or (row["date"] - row["as_of"]).days > STALE_AFTER_DAYS


def market(
    daily: pd.DataFrame, onchain: pd.DataFrame, macro: pd.DataFrame, classes: dict[str, str]
) -> pd.DataFrame:
    closes = {(r.asset_id, r.date): r.close for r in daily.itertuples()}
    chain = {(r["asset_id"], r["date"]): r for r in onchain.to_dict("records")}
    dtb3 = macro[(macro["series_id"] == "DTB3") & (macro["region"] == "USA")]
    tbill = (dtb3.groupby("date")["value"].max() / 100).to_dict()
    keys = set(closes) | set(chain)
    last = max(day for _, day in keys)
    rows = []
    for asset_id in sorted({asset for asset, _ in keys}):
        day = min(d for a, d in keys if a == asset_id)
        carried: dict[str, Any] = {f"{s}_as_of": None for s in STOCKS} | dict.fromkeys(
            STOCKS.values()
        )
        history: list[dict[str, Any]] = []
        while day <= last:
            observed = dict(chain.get((asset_id, day), {}))
            observed["price_usd"] = closes.get((asset_id, day))
            for short, column in STOCKS.items():
                if _known(observed.get(column)):
                    carried[column], carried[f"{short}_as_of"] = observed[column], day
            row = {"asset_id": asset_id, "date": day, **carried, "tbill_3m": tbill.get(day)}
            row |= {flow: observed.get(flow) for flow in FLOWS}
            history.append(row)
            _finish(row, history, classes.get(asset_id) in ACCUMULATING_CLASSES)
            rows.append(row)
            day += dt.timedelta(days=1)
    return pd.DataFrame(rows)
