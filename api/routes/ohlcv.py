"""``GET /assets/{asset_id}/ohlcv``: the OHLCV bars of one asset at 1m/5m/1h/1d/1w."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, KnownAssetId, OhlcvQueryDep, StoreDep
from api.rendering import envelope, json_response, rows_from_arrow
from api.schemas import OhlcvBarOut, OhlcvResponse
from api.security.tiers import INTRADAY_GATE, TIER_REQUIRED

router = APIRouter(prefix="/assets", tags=["market data"], responses=STORE_UNAVAILABLE)


@router.get(
    "/{asset_id}/ohlcv",
    response_model=OhlcvResponse,
    responses=ASSET_NOT_FOUND | TIER_REQUIRED,
    dependencies=[INTRADAY_GATE],
    summary="OHLCV bars of one asset",
)
def get_ohlcv(store: StoreDep, query: OhlcvQueryDep, asset_id: KnownAssetId) -> Response:
    """Bars with ``start <= ts < end`` in time order; when more than ``limit`` match, the
    newest ``limit`` are returned."""
    resolution = query.effective_resolution
    bars = store.ohlcv_table(asset_id, resolution, query.start, query.end, query.limit)
    # The bars go from Arrow columns to JSON, checked per column (api.rendering).
    head = OhlcvResponse(
        asset_id=asset_id,
        resolution=resolution,
        interval=resolution,
        start=query.start,
        end=query.end,
        count=bars.num_rows,
        bars=[],
    )
    return json_response(envelope(head, "bars", rows_from_arrow(OhlcvBarOut, bars)))
