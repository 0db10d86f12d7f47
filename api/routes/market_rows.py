"""The assets table and the KPI strip of the market analytics, from the ``market_daily`` rows of
a day and of 7 days before (a few dozen assets: plain Python, validated once per snapshot where
the store keeps results, see :meth:`~pipelines.serving.store.ServingStore.memoised`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from api.market_schemas import KpiOut, MarketAssetOut, MarketSummaryOut
from api.schemas import EvidenceOut
from pipelines.contracts.measures import RWA_CLASSES, STALE_AFTER_DAYS
from pipelines.contracts.reference import Asset
from pipelines.serving.store import ServingStore

WEEK = dt.timedelta(days=7)
Row = dict[str, Any]


def _by_asset(store: ServingStore, day: dt.date) -> dict[str, Row]:
    return {row["asset_id"]: row for row in store.market_day(day).to_pylist()}


def _ratio_change(now: float | None, before: float | None) -> float | None:
    """now / before - 1; None when either is unknown or ``before`` is 0."""
    if now is None or not before:
        return None
    return now / before - 1


def asset_rows(store: ServingStore, day: dt.date) -> tuple[Row, ...]:
    """Every asset with a ``market_daily`` row on ``day``, as :class:`MarketAssetOut` serves
    it (JSON-ready, risk score included: the route withholds it from tiers without it)."""
    assets = {asset.asset_id: asset for asset in store.list_assets()}
    before = _by_asset(store, day - WEEK)
    risk = {
        row["asset_id"]: row["composite_score"] for row in store.latest_risk_scores().to_pylist()
    }
    midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
    news = {
        row["asset_id"]: row
        for row in store.sentiment_means(
            midnight - WEEK + dt.timedelta(days=1), midnight + dt.timedelta(days=1)
        ).to_pylist()
    }
    rows = []
    for asset_id, row in _by_asset(store, day).items():
        asset = assets.get(asset_id)
        if asset is None:  # loaded without its reference row: nothing to show it by
            continue
        previous = before.get(asset_id, {})
        rows.append(
            MarketAssetOut.model_validate(
                row
                | _reference(asset)
                | _changes(row, previous)
                | {
                    "risk_score": risk.get(asset_id),
                    "sentiment_7d": news.get(asset_id, {}).get("sentiment_score"),
                    "articles_7d": news.get(asset_id, {}).get("article_count", 0),
                }
            ).model_dump(mode="json")
        )
    return tuple(rows)


def _reference(asset: Asset) -> Row:
    return {
        "symbol": asset.symbol,
        "name": asset.name,
        "asset_class": asset.asset_class,
        "network": asset.blockchain_network,
        "issuer_name": asset.issuer_name,
        "kyc_required": asset.kyc_required,
        "evidence": EvidenceOut.model_validate(asset.evidence),
    }


def _changes(row: Row, previous: Row) -> Row:
    holders, holders_before = row["holders"], previous.get("holders")
    return {
        "price_change_7d": _ratio_change(row["price_usd"], previous.get("price_usd")),
        "value_change_7d": _ratio_change(row["value_usd"], previous.get("value_usd")),
        "holders_change_7d": (
            None if holders is None or holders_before is None else holders - holders_before
        ),
    }


# --- the KPI strip --------------------------------------------------------------------------


def _total(values: Iterable[float | int | None]) -> float | None:
    """The sum of the known values; None when none is known (not 0: unknown is not none)."""
    known = [value for value in values if value is not None]
    return float(sum(known)) if known else None


def _weighted_yield(rows: Sequence[Row]) -> float | None:
    """Value-weighted mean ``yield_7d`` of the rows that have both a yield and a value."""
    pairs = [
        (row["yield_7d"], row["value_usd"])
        for row in rows
        if row["yield_7d"] is not None and row["value_usd"]
    ]
    weight = sum(value for _, value in pairs)
    return sum(y * value for y, value in pairs) / weight if weight else None


def _figures(rows: Sequence[Row], classes: Mapping[str, str]) -> dict[str, float | None]:
    """The KPIs of one day's rows: over current rows only."""
    current = [row for row in rows if not row["stale"]]
    rwa = [row for row in current if classes.get(row["asset_id"]) in RWA_CLASSES]
    treasuries = [r for r in current if classes.get(r["asset_id"]) == "tokenized_treasury"]
    stablecoins = [r for r in current if classes.get(r["asset_id"]) == "stablecoin"]
    tbill = next((r["tbill_3m"] for r in current if r["tbill_3m"] is not None), None)
    treasury_yield = _weighted_yield(treasuries)
    return {
        "total_value_usd": _total(row["value_usd"] for row in rwa),
        "holders": _total(row["holders"] for row in rwa),
        "assets": float(len(rwa)) if rows else None,
        "treasury_yield_7d": treasury_yield,
        "tbill_3m": tbill,
        "treasury_spread": (
            None if treasury_yield is None or tbill is None else treasury_yield - tbill
        ),
        "stablecoin_supply_usd": _total(row["market_value_usd"] for row in stablecoins),
    }


def _kpi(now: float | None, before: float | None) -> KpiOut:
    return KpiOut(
        value=now,
        value_7d_ago=before,
        change_7d=None if now is None or before is None else now - before,
        change_7d_pct=_ratio_change(now, before),
    )


def summary(store: ServingStore, day: dt.date | None) -> Row:
    """The KPI strip of ``day`` (nothing known when None), JSON-ready."""
    classes = {asset.asset_id: asset.asset_class for asset in store.list_assets()}
    rows: list[Row] = [] if day is None else list(_by_asset(store, day).values())
    previous: list[Row] = [] if day is None else list(_by_asset(store, day - WEEK).values())
    now, before = _figures(rows, classes), _figures(previous, classes)
    body: Row = {name: _kpi(now[name], before[name]) for name in now}
    body |= {
        "date": day,
        "stale_after_days": STALE_AFTER_DAYS,
        "stale_assets": sum(1 for row in rows if row["stale"]),
    }
    return MarketSummaryOut.model_validate(body).model_dump(mode="json")
