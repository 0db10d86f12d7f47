"""News headlines: ``GET /news`` (the newest articles naming any covered asset) and
``GET /assets/{asset_id}/news`` (those naming one asset: the headlines behind its daily
sentiment), each with the sentiment of its headline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, KnownAssetId, StoreDep, WindowQueryDep
from api.schemas import LatestArticleOut, LatestNewsOut, NewsArticleOut, NewsResponse
from pipelines.contracts.served import NEWS

router = APIRouter(tags=["sentiment"], responses=STORE_UNAVAILABLE)


@router.get(
    "/assets/{asset_id}/news",
    response_model=NewsResponse,
    responses=ASSET_NOT_FOUND,
    summary="News articles naming one asset",
)
def get_asset_news(store: StoreDep, query: WindowQueryDep, asset_id: KnownAssetId) -> NewsResponse:
    """Articles published with ``start <= ts < end``, oldest first (the newest ``limit`` when
    more match), with the headline's sentiment."""
    rows = store.series(NEWS, {"asset_id": asset_id}, query.start, query.end, query.limit)
    return NewsResponse(
        asset_id=asset_id,
        start=query.start,
        end=query.end,
        count=rows.num_rows,
        articles=NewsArticleOut.list_from_arrow(rows),
    )


@router.get("/news", response_model=LatestNewsOut, summary="Latest news about covered assets")
def latest_news(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Articles.")] = 20,
) -> LatestNewsOut:
    """The newest ``limit`` articles naming a covered asset, newest first, each once with
    every asset it names."""
    articles: dict[str, LatestArticleOut] = {}
    for row in store.latest_news(limit).to_pylist():
        known = articles.get(row["article_id"])
        if known is None:
            articles[row["article_id"]] = LatestArticleOut.model_validate(
                row | {"asset_ids": [row["asset_id"]]}
            )
        else:
            known.asset_ids.append(row["asset_id"])
    return LatestNewsOut(articles=list(articles.values()))
