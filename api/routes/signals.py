"""Signals, read-only: ``GET /assets/{asset_id}/signals`` (the newest reading of each of one
asset's signals) and ``GET /signals`` (every asset's, filtered, sorted, paged).

The pipeline computes them (``rwa signals``, Dagster ``ml/signals``) into ``gold/signals`` and
the serving load carries them here, as it does predictions and risk scores: the forecast
signal's backtest refits a model for every day of its window, far too slow for a request.
Gated by ``Feature.SIGNALS`` (paid tiers). Nothing here places orders.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    AssetClassFilter,
    KnownAssetId,
    StoreDep,
    memoised_body,
    memoised_read,
)
from api.rendering import dump_json, envelope, json_response
from api.security.tiers import SIGNALS_GATE, TIER_REQUIRED
from api.signal_schemas import AssetSignalsResponse, SignalName, SignalOut, SignalPage, SignalSort
from pipelines.contracts.served import SIGNALS
from pipelines.serving.store import ServingStore

router = APIRouter(tags=["signals"], responses=STORE_UNAVAILABLE, dependencies=[SIGNALS_GATE])

Direction = Annotated[int | None, Query(ge=-1, le=1, description="1 long, 0 flat, -1 short.")]


@router.get(
    "/assets/{asset_id}/signals",
    response_model=AssetSignalsResponse,
    responses=ASSET_NOT_FOUND | TIER_REQUIRED,
    summary="Latest signals of one asset",
)
async def get_signals(store: StoreDep, asset_id: KnownAssetId) -> Response:
    """The forecast, sentiment and risk signals as of the asset's latest daily close: direction,
    strength, the inputs behind each, and each one's backtest beside buy-and-hold over the
    stated window. An asset without signals yet answers an empty list."""
    rows = [r for r in await _signals(store) if r["asset_id"] == asset_id]
    head = AssetSignalsResponse(asset_id=asset_id, signals=[])
    return json_response(envelope(head, "signals", rows))


@router.get(
    "/signals",
    response_model=SignalPage,
    responses=TIER_REQUIRED,
    summary="Latest signals of all assets",
)
async def list_signals(
    store: StoreDep,
    asset: Annotated[str | None, Query(description="Only this asset's signals.")] = None,
    asset_class: AssetClassFilter = None,
    signal: Annotated[SignalName | None, Query(description="Only this signal.")] = None,
    direction: Direction = None,
    sort: Annotated[SignalSort, Query(description="Order; '-' for descending.")] = "asset_id",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The newest reading of every asset's signals, filtered, sorted (then by asset and
    signal), paged. An unknown ``asset`` matches nothing."""

    async def render() -> bytes:
        members = await _class_members(store, asset_class)
        rows = [
            r
            for r in await _signals(store)
            if (asset is None or r["asset_id"] == asset)
            and (members is None or r["asset_id"] in members)
            and (signal is None or r["signal"] == signal)
            and (direction is None or r["direction"] == direction)
        ]
        key = sort.removeprefix("-")
        descending = sort.startswith("-")
        rows.sort(key=lambda r: (r["asset_id"], r["signal"]))
        rows.sort(key=lambda r: r[key], reverse=descending)
        head = SignalPage(total=len(rows), limit=limit, offset=offset, signals=[])
        return dump_json(envelope(head, "signals", rows[offset : offset + limit]))

    page = ("signal page", asset, asset_class, signal, direction, sort, limit, offset)
    return json_response(orjson.Fragment(await memoised_body(store, page, render)))


async def _signals(store: ServingStore) -> tuple[dict[str, Any], ...]:
    """The newest reading of every asset's signals, validated as :class:`SignalOut` and ready
    for JSON: once per published snapshot where the store keeps results."""

    def validated() -> tuple[dict[str, Any], ...]:
        rows = store.newest_rows(SIGNALS).to_pylist()
        return tuple(SignalOut.from_row(row).model_dump(mode="json") for row in rows)

    return await memoised_read(store, ("signals out",), validated)


async def _class_members(store: ServingStore, asset_class: str | None) -> frozenset[str] | None:
    if asset_class is None:
        return None

    def members() -> frozenset[str]:
        return frozenset(a.asset_id for a in store.list_assets(asset_class))

    return await memoised_read(store, ("asset ids of class", asset_class), members)
