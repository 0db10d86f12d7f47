"""Price forecasts: ``GET /assets/{asset_id}/predictions`` (the latest path of one asset) and
``GET /predictions`` (where every asset's latest forecast ends, filtered, sorted, paged)."""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, AssetClassFilter, KnownAssetId, StoreDep
from api.schemas import (
    ForecastPage,
    ForecastSort,
    ForecastSummaryOut,
    PredictionPointOut,
    PredictionsResponse,
)
from api.security.tiers import HORIZON_GATE, TIER_REQUIRED

router = APIRouter(tags=["predictions"], responses=STORE_UNAVAILABLE)


class Horizon(IntEnum):
    """Forecast horizons served, in days."""

    week = 7
    month = 30


@router.get(
    "/assets/{asset_id}/predictions",
    response_model=PredictionsResponse,
    responses=ASSET_NOT_FOUND | TIER_REQUIRED,
    dependencies=[HORIZON_GATE],
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


@router.get(
    "/predictions",
    response_model=ForecastPage,
    responses=TIER_REQUIRED,
    dependencies=[HORIZON_GATE],
    summary="Latest forecasts of all assets",
)
def list_predictions(
    store: StoreDep,
    horizon: Annotated[Horizon, Query(description="Days ahead: 7 or 30.")] = Horizon.week,
    asset_class: AssetClassFilter = None,
    sort: Annotated[ForecastSort, Query(description="Order; '-' for descending.")] = (
        "-expected_return"
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ForecastPage:
    """For each asset, the last day of its newest forecast at ``horizon`` with the expected
    return from the last close; sorted (assets without a served close last), paged."""
    rows = []
    for row in store.forecast_summaries(int(horizon), asset_class).to_pylist():
        close = row["last_close"]
        expected = row["value"] / close - 1 if close else None
        rows.append(ForecastSummaryOut.model_validate(row | {"expected_return": expected}))
    key = sort.removeprefix("-")
    descending = sort.startswith("-")
    known = [r for r in rows if getattr(r, key) is not None]
    known.sort(key=lambda r: (getattr(r, key), r.asset_id), reverse=descending)
    ordered = known + [r for r in rows if getattr(r, key) is None]
    return ForecastPage(
        total=len(ordered), limit=limit, offset=offset, forecasts=ordered[offset : offset + limit]
    )
