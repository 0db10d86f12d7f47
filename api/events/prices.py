"""``price_update`` events after a serving load: one per asset whose latest bar the load changed.

The latest bar of an asset is its newest bar at the finest resolution it has (1m, else 5m, 1h,
1d), read through the :class:`~pipelines.serving.store.ServingStore` protocol, so DuckDB and
TimescaleDB behave alike. What was announced last is the channel's own memory: the newest
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
from pipelines.contracts.served import LOADED_RESOLUTIONS, Resolution
from pipelines.serving.store import OhlcvBar, ServingStore


@dataclass(frozen=True, slots=True)
class LatestPrice:
    """An asset's newest bar and the change of its close from the bar before it."""

    asset_id: str
    resolution: Resolution
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


def latest_price(store: ServingStore, asset_id: str) -> LatestPrice | None:
    """The newest bar of ``asset_id`` at the finest resolution that has one; None: no bars."""
    for resolution in LOADED_RESOLUTIONS:  # finest first
        bars = store.ohlcv(asset_id, resolution, limit=2)
        if bars:
            previous = bars[-2].close if len(bars) > 1 else None
            return LatestPrice(asset_id, resolution, bars[-1], previous)
    return None


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
    ids = [a.asset_id for a in store.list_assets()] if asset_ids is None else list(asset_ids)
    announced = _announced(session)
    published: list[LatestPrice] = []
    for asset_id in ids:
        latest = latest_price(store, asset_id)
        if latest is None:
            continue
        if announced.get(asset_id) == (latest.bar.ts.isoformat(), latest.bar.close):
            continue
        publish(session, EventType.PRICE_UPDATE, _utc(latest.bar.ts), latest.payload())
        published.append(latest)
    return published


def _utc(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.UTC)
