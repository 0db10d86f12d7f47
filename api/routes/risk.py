"""Risk scores: the latest of one asset, and a filtered, sorted, paged list of all of them."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Response, status

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    AssetClassFilter,
    KnownAssetId,
    StoreDep,
    memoised_body,
    memoised_read,
)
from api.rendering import dump_json, envelope, json_response
from api.schemas import RiskPage, RiskScoreOut, RiskSort
from api.security.tiers import RISK_GATE, TIER_REQUIRED
from pipelines.serving.store import ServingStore

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
async def get_risk(store: StoreDep, asset_id: KnownAssetId) -> Response:
    """Composite 1-100, market/credit/regulatory/technical sub-scores and the factors behind
    them (methodology: docs/risk.md). 404 when the asset has not been scored yet."""
    rows = [r for r in await _scores(store, None) if r["asset_id"] == asset_id]
    if not rows:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"asset {asset_id!r} has no risk score yet (run `rwa risk`, then `rwa load`)",
        )
    return json_response(rows[0])


@router.get(
    "/risk",
    response_model=RiskPage,
    responses=TIER_REQUIRED,
    dependencies=[RISK_GATE],
    summary="Latest risk scores of all assets",
)
async def list_risk(
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
) -> Response:
    """The newest score of each asset, filtered by class and score range, sorted, paged. The
    range is inclusive; one with min_score > max_score holds no score, so the page is empty."""

    async def render() -> bytes:
        rows = [
            r
            for r in await _scores(store, asset_class)
            if min_score <= r["composite_score"] <= max_score
        ]
        key = sort.removeprefix("-")
        rows.sort(key=lambda r: (r[key], r["asset_id"]), reverse=sort.startswith("-"))
        head = RiskPage(total=len(rows), limit=limit, offset=offset, scores=[])
        return dump_json(envelope(head, "scores", rows[offset : offset + limit]))

    page = ("risk page", asset_class, min_score, max_score, sort, limit, offset)
    return json_response(orjson.Fragment(await memoised_body(store, page, render)))


async def _scores(store: ServingStore, asset_class: str | None) -> tuple[dict[str, Any], ...]:
    """The newest score of every asset (of ``asset_class``), validated as
    :class:`RiskScoreOut` and ready for JSON: once per published snapshot where the store
    keeps results (unpacking and validating some 5 kB of factors per asset was most of a
    request's time), shared by the requests and never changed."""

    def validated() -> tuple[dict[str, Any], ...]:
        rows = store.latest_risk_scores(asset_class).to_pylist()
        return tuple(RiskScoreOut.from_row(row).model_dump(mode="json") for row in rows)

    return await memoised_read(store, ("risk scores out", asset_class), validated)
