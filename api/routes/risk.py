"""Risk scores: the latest of one asset, and a filtered, sorted, paged list of all of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, AssetClassFilter, KnownAssetId, StoreDep
from api.schemas import RiskPage, RiskScoreOut, RiskSort
from api.security.tiers import RISK_GATE, TIER_REQUIRED

router = APIRouter(tags=["risk"], responses=STORE_UNAVAILABLE)


@router.get(
    "/assets/{asset_id}/risk",
    response_model=RiskScoreOut,
    responses={
        status.HTTP_404_NOT_FOUND: {
            **ASSET_NOT_FOUND[status.HTTP_404_NOT_FOUND],
            "description": "Unknown asset, or not scored yet.",
        },
        **TIER_REQUIRED,
    },
    dependencies=[RISK_GATE],
    summary="Latest risk score of one asset",
)
def get_risk(store: StoreDep, asset_id: KnownAssetId) -> RiskScoreOut:
    """Composite 1-100, market/credit/regulatory/technical sub-scores and the factors behind
    them (methodology: docs/risk.md). 404 when the asset has not been scored yet."""
    rows = [r for r in store.latest_risk_scores().to_pylist() if r["asset_id"] == asset_id]
    if not rows:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"asset {asset_id!r} has no risk score yet (run `rwa risk`, then `rwa load`)",
        )
    return RiskScoreOut.from_row(rows[0])


@router.get(
    "/risk",
    response_model=RiskPage,
    responses=TIER_REQUIRED,
    dependencies=[RISK_GATE],
    summary="Latest risk scores of all assets",
)
def list_risk(
    store: StoreDep,
    asset_class: AssetClassFilter = None,
    min_score: Annotated[
        int,
        Query(ge=1, le=100, description="Only scores >= this; above max_score, none match."),
    ] = 1,
    max_score: Annotated[int, Query(ge=1, le=100, description="Only scores <= this.")] = 100,
    sort: Annotated[RiskSort, Query(description="Order; '-' for descending.")] = "-composite_score",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RiskPage:
    """The newest score of each asset, filtered by class and score range, sorted, paged. The
    range is inclusive; one with min_score > max_score holds no score, so the page is empty."""
    rows = [
        r
        for r in store.latest_risk_scores(asset_class).to_pylist()
        if min_score <= r["composite_score"] <= max_score
    ]
    key = sort.removeprefix("-")
    rows.sort(key=lambda r: (r[key], r["asset_id"]), reverse=sort.startswith("-"))
    page = rows[offset : offset + limit]
    return RiskPage(
        total=len(rows),
        limit=limit,
        offset=offset,
        scores=[RiskScoreOut.from_row(r) for r in page],
    )
