"""``price_update`` events after a serving load: one per asset whose latest bar the load changed.

The latest bar of an asset is its newest bar of any resolution (the latest start; the finest
on a tie: the price the alert evaluation reads), read through the
:class:`~pipelines.serving.store.ServingStore` protocol, so DuckDB and TimescaleDB behave
alike. What was announced last is the channel's own memory: the newest
``price_update`` event of each asset. An asset whose latest bar (time and close) equals the
one announced is skipped, so a reload of the same data publishes nothing, and no state is kept
beside the events (once retention pruned an asset's last event, its price is announced again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.events.bus import EventType, publish
from api.events.tables import Event
from pipelines.contracts.served import (
    LOADED_RESOLUTIONS,
    OHLCV,
    OHLCV_INTRADAY,
)
from pipelines.serving.store import OhlcvBar, ServingStore

#: Finest first: 0 for 1m.
FINENESS: dict[str, int] = {resolution: i for i, resolution in enumerate(LOADED_RESOLUTIONS)}
#: How far before a series' newest bar its previous one lies (the bar length of the coarsest
#: resolution each read covers).
PREVIOUS_BAR_WITHIN = {"1d": dt.timedelta(days=1), "5m": dt.timedelta(minutes=5)}


@dataclass(frozen=True, slots=True)
class LatestPrice:
    """An asset's newest bar and the change of its close from the bar before it."""

    asset_id: str
    resolution: str
    bar: OhlcvBar
    previous_close: float | None

    def payload(self) -> dict[str, Any]:
        change = None if self.previous_close is None else self.bar.close - self.previous_close
        change_pct = (
            None
            if change is None or not self.previous_close
            else change / self.previous_close * 100
        )
        return {
            "asset_id": self.asset_id,
            "price": self.bar.close,
            "bar_ts": self.bar.ts.isoformat(),
            "resolution": self.resolution,
            "change": change,
            "change_pct": change_pct,
        }


def latest_prices(store: ServingStore) -> dict[str, LatestPrice]:
    """Per asset, its newest bar (the latest start; the finest resolution on a tie, as the
    alert evaluation reads prices) and the close of the bar before it at that resolution.
    Two reads for every asset at once."""
    rows = [
        *store.newest_rows(OHLCV, PREVIOUS_BAR_WITHIN["1d"]).to_pylist(),
        *store.newest_rows(OHLCV_INTRADAY, PREVIOUS_BAR_WITHIN["5m"]).to_pylist(),
    ]
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["ts"]):
        series.setdefault((row["asset_id"], row["resolution"]), []).append(row)
    latest: dict[str, LatestPrice] = {}
    for (asset_id, resolution), bars in series.items():
        if resolution not in FINENESS:
            continue
        newest = bars[-1]
        held = latest.get(asset_id)
        if held is not None and (held.bar.ts, -FINENESS[held.resolution]) >= (
            newest["ts"],
            -FINENESS[resolution],
        ):
            continue
        previous = bars[-2]["close"] if len(bars) > 1 else None
        bar = OhlcvBar(
            ts=newest["ts"],
            open=newest["open"],
            high=newest["high"],
            low=newest["low"],
            close=newest["close"],
            volume=newest["volume"],
        )
        latest[asset_id] = LatestPrice(asset_id, resolution, bar, previous)
    return latest


def _announced(session: Session) -> dict[str, tuple[str, float]]:
    """Per asset, the bar time and price of its newest ``price_update`` event."""
    asset_id = Event.payload["asset_id"].as_string()
    newest = (
        select(func.max(Event.id).label("id"))
        .where(Event.type == EventType.PRICE_UPDATE.value)
        .group_by(asset_id)
        .subquery()
    )
    rows = session.scalars(select(Event).join(newest, Event.id == newest.c.id))
    return {
        str(event.payload["asset_id"]): (
            str(event.payload.get("bar_ts")),
            float(event.payload.get("price") or 0.0),
        )
        for event in rows
    }


def publish_price_updates(
    session: Session, store: ServingStore, asset_ids: Iterable[str] | None = None
) -> list[LatestPrice]:
    """Add a ``price_update`` event (public: every subscribed client) for each asset (of
    ``asset_ids``, default every asset of the store) whose latest bar differs from the one its
    last event announced; the caller commits ``session``. Returns what was published."""
    prices = latest_prices(store)
    ids = sorted(prices) if asset_ids is None else [a for a in asset_ids if a in prices]
    announced = _announced(session)
    published: list[LatestPrice] = []
    for asset_id in ids:
        latest = prices[asset_id]
        if announced.get(asset_id) == (latest.bar.ts.isoformat(), latest.bar.close):
            continue
        publish(session, EventType.PRICE_UPDATE, _utc(latest.bar.ts), latest.payload())
        published.append(latest)
    return published


def _utc(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.UTC)
