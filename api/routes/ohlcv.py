"""``GET /assets/{asset_id}/ohlcv``: the OHLCV bars of one asset at 1m/5m/1h/1d/1w."""

from __future__ import annotations

import datetime as dt

import orjson
from fastapi import APIRouter, Response

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    KnownAssetId,
    OhlcvQueryDep,
    StoreDep,
    memoised_read,
)
from api.rendering import dump_json, envelope, json_response, rows_from_arrow
from api.schemas import OhlcvBarOut, OhlcvResponse
from api.security.tiers import INTRADAY_GATE, TIER_REQUIRED
from pipelines.contracts.served import Resolution
from pipelines.serving.store import ServingStore

router = APIRouter(prefix="/assets", tags=["market data"], responses=STORE_UNAVAILABLE)


@router.get(
    "/{asset_id}/ohlcv",
    response_model=OhlcvResponse,
    responses=ASSET_NOT_FOUND | TIER_REQUIRED,
    dependencies=[INTRADAY_GATE],
    summary="OHLCV bars of one asset",
)
async def get_ohlcv(store: StoreDep, query: OhlcvQueryDep, asset_id: KnownAssetId) -> Response:
    """Bars with ``start <= ts < end`` in time order; when more than ``limit`` match, the
    newest ``limit`` are returned."""
    resolution = query.effective_resolution
    window = (asset_id, resolution, query.start, query.end, query.limit)
    count, bars = await memoised_read(
        store, ("bars json", *window), lambda: _bars_json(store, *window)
    )
    head = OhlcvResponse(
        asset_id=asset_id,
        resolution=resolution,
        interval=resolution,
        start=query.start,
        end=query.end,
        count=count,
        bars=[],
    )
    return json_response(envelope(head, "bars", orjson.Fragment(bars)))


def _bars_json(
    store: ServingStore,
    asset_id: str,
    resolution: Resolution,
    start: dt.datetime | None,
    end: dt.datetime | None,
    limit: int,
) -> tuple[int, bytes]:
    """How many bars the window holds, and their JSON array: from Arrow columns, checked per
    column (api.rendering); kept per snapshot where the store allows, as compact bytes."""
    bars = store.ohlcv_table(asset_id, resolution, start, end, limit)
    return bars.num_rows, dump_json(rows_from_arrow(OhlcvBarOut, bars))
