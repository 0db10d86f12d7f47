"""``/assets``: the asset reference data."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    AssetClassFilter,
    AssetIdPath,
    StoreDep,
    asset_or_404,
    memoised_read,
)
from api.rendering import dump_json, json_response
from api.schemas import AssetDetail, AssetSummary

router = APIRouter(prefix="/assets", responses=STORE_UNAVAILABLE)


@router.get("", response_model=list[AssetSummary], summary="List assets", tags=["assets"])
async def list_assets(store: StoreDep, asset_class: AssetClassFilter = None) -> Response:
    """All assets ordered by ``asset_id``, optionally only those of one class."""

    def rendered() -> orjson.Fragment:
        summaries = [AssetSummary.model_validate(a) for a in store.list_assets(asset_class)]
        return orjson.Fragment(dump_json([s.model_dump(mode="json") for s in summaries]))

    return json_response(await memoised_read(store, ("asset summaries", asset_class), rendered))


@router.get(
    "/{asset_id}",
    response_model=AssetDetail,
    responses=ASSET_NOT_FOUND,
    summary="One asset",
    tags=["assets"],
)
async def get_asset(store: StoreDep, asset_id: AssetIdPath) -> Response:
    """Every reference fact known about one asset."""

    def rendered() -> orjson.Fragment:
        detail = AssetDetail.model_validate(asset_or_404(store, asset_id))
        return orjson.Fragment(dump_json(detail.model_dump(mode="json")))

    return json_response(await memoised_read(store, ("asset detail", asset_id), rendered))
