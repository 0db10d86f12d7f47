"""``GET /assets/{asset_id}/predictions``: the latest price forecast of one asset."""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ASSET_NOT_FOUND, KnownAssetId, StoreDep
from api.schemas import PredictionPointOut, PredictionsResponse

router = APIRouter(prefix="/assets", tags=["predictions"])


class Horizon(IntEnum):
    """Forecast horizons served, in days."""

    week = 7
    month = 30


@router.get(
    "/{asset_id}/predictions",
    response_model=PredictionsResponse,
    responses=ASSET_NOT_FOUND,
    summary="Latest forecast of one asset",
)
def get_predictions(
    store: StoreDep,
    asset_id: KnownAssetId,
    horizon: Annotated[Horizon, Query(description="Days ahead: 7 or 30.")] = Horizon.week,
) -> PredictionsResponse:
    """The newest forecast run: one point per day ahead with 80% and 95% prediction intervals,
    the model version that made it and when. An asset never forecast answers an empty list."""
    rows = store.latest_predictions(asset_id, int(horizon)).to_pylist()
    return PredictionsResponse(
        asset_id=asset_id,
        horizon_days=int(horizon),
        generated_at=rows[0]["generated_at"] if rows else None,
        model_version=rows[0]["model_version"] if rows else None,
        predictions=[PredictionPointOut.model_validate(row) for row in rows],
    )
