"""``GET /assets/{asset_id}/sentiment``: daily news sentiment of one asset."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, KnownAssetId, StoreDep, WindowQueryDep
from api.schemas import SentimentDayOut, SentimentResponse
from pipelines.contracts.served import SENTIMENT

router = APIRouter(prefix="/assets", tags=["sentiment"], responses=STORE_UNAVAILABLE)


@router.get(
    "/{asset_id}/sentiment",
    response_model=SentimentResponse,
    responses=ASSET_NOT_FOUND,
    summary="Daily news sentiment of one asset",
)
def get_sentiment(
    store: StoreDep, query: WindowQueryDep, asset_id: KnownAssetId
) -> SentimentResponse:
    """Per UTC day with news naming the asset (``start <= day < end``, oldest first; the newest
    ``limit`` days when more match): article count, mean score in [-1, 1], confidence, shares of
    positive and negative articles and the model that scored them."""
    rows = store.series(SENTIMENT, {"asset_id": asset_id}, query.start, query.end, query.limit)
    return SentimentResponse(
        asset_id=asset_id,
        start=query.start,
        end=query.end,
        count=rows.num_rows,
        days=SentimentDayOut.list_from_arrow(rows),
    )
