"""``/assets``: the asset reference data."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    AssetClassFilter,
    AssetIdPath,
    StoreDep,
    asset_or_404,
)
from api.schemas import AssetDetail, AssetSummary

router = APIRouter(prefix="/assets", responses=STORE_UNAVAILABLE)


@router.get("", response_model=list[AssetSummary], summary="List assets", tags=["assets"])
def list_assets(store: StoreDep, asset_class: AssetClassFilter = None) -> list[AssetSummary]:
    """All assets ordered by ``asset_id``, optionally only those of one class."""
    return [AssetSummary.model_validate(a) for a in store.list_assets(asset_class)]


@router.get(
    "/{asset_id}",
    response_model=AssetDetail,
    responses=ASSET_NOT_FOUND,
    summary="One asset",
    tags=["assets"],
)
def get_asset(store: StoreDep, asset_id: AssetIdPath) -> AssetDetail:
    """Every reference fact known about one asset."""
    return AssetDetail.model_validate(asset_or_404(store, asset_id))
