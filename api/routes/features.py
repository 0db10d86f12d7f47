"""``GET /assets/{asset_id}/features``: daily return, risk and liquidity features of one asset."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, KnownAssetId, StoreDep, WindowQueryDep
from api.schemas import FeaturesDayOut, FeaturesResponse
from pipelines.contracts.served import FEATURES

router = APIRouter(prefix="/assets", tags=["market data"], responses=STORE_UNAVAILABLE)


@router.get(
    "/{asset_id}/features",
    response_model=FeaturesResponse,
    responses=ASSET_NOT_FOUND,
    summary="Daily features of one asset",
)
def get_features(
    store: StoreDep, query: WindowQueryDep, asset_id: KnownAssetId
) -> FeaturesResponse:
    """Returns, realized volatility, drawdowns and liquidity measures per UTC day with
    ``start <= day < end``, oldest first; the newest ``limit`` days when more match."""
    rows = store.series(FEATURES, {"asset_id": asset_id}, query.start, query.end, query.limit)
    return FeaturesResponse(
        asset_id=asset_id,
        start=query.start,
        end=query.end,
        count=rows.num_rows,
        features=FeaturesDayOut.list_from_arrow(rows),
    )
