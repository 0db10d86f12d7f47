"""``/assets``: the asset reference data and each asset's OHLCV bars."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from api.deps import AssetClassFilter, OhlcvQueryDep, StoreDep
from api.schemas import AssetDetail, AssetSummary, ErrorOut, OhlcvBarOut, OhlcvResponse
from pipelines.reference.model import Asset
from pipelines.serving.base import ServingStore

router = APIRouter(prefix="/assets")

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "Unknown asset."}
}

AssetId = Annotated[str, Path(description="Asset slug as listed by GET /assets, e.g. 'ousg'.")]


def _require_asset(store: ServingStore, asset_id: str) -> Asset:
    asset = store.get_asset(asset_id)
    if asset is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"asset {asset_id!r} not found")
    return asset


@router.get("", response_model=list[AssetSummary], summary="List assets", tags=["assets"])
def list_assets(store: StoreDep, asset_class: AssetClassFilter = None) -> list[AssetSummary]:
    """All assets ordered by ``asset_id``, optionally only those of one class."""
    return [AssetSummary.model_validate(a) for a in store.list_assets(asset_class)]


@router.get(
    "/{asset_id}",
    response_model=AssetDetail,
    responses=_NOT_FOUND,
    summary="One asset",
    tags=["assets"],
)
def get_asset(store: StoreDep, asset_id: AssetId) -> AssetDetail:
    """Every reference fact known about one asset."""
    return AssetDetail.model_validate(_require_asset(store, asset_id))


@router.get(
    "/{asset_id}/ohlcv",
    response_model=OhlcvResponse,
    responses=_NOT_FOUND,
    summary="OHLCV bars of one asset",
    tags=["market data"],
)
def get_ohlcv(store: StoreDep, query: OhlcvQueryDep, asset_id: AssetId) -> OhlcvResponse:
    """Bars with ``start <= ts < end`` in time order; when more than ``limit`` match, the
    newest ``limit`` are returned."""
    _require_asset(store, asset_id)
    bars = store.ohlcv(asset_id, query.interval, query.start, query.end, query.limit)
    return OhlcvResponse(
        asset_id=asset_id,
        interval=query.interval,
        start=query.start,
        end=query.end,
        count=len(bars),
        bars=[OhlcvBarOut.model_validate(b) for b in bars],
    )
