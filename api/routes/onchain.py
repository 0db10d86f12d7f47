"""``GET /assets/{asset_id}/onchain``: daily on-chain metrics of one asset."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ASSET_NOT_FOUND, STORE_UNAVAILABLE, KnownAssetId, StoreDep, WindowQueryDep
from api.schemas import OnchainDayOut, OnchainResponse
from pipelines.contracts.served import ONCHAIN

router = APIRouter(prefix="/assets", tags=["on-chain"], responses=STORE_UNAVAILABLE)


@router.get(
    "/{asset_id}/onchain",
    response_model=OnchainResponse,
    responses=ASSET_NOT_FOUND,
    summary="Daily on-chain metrics of one asset",
)
def get_onchain(store: StoreDep, query: WindowQueryDep, asset_id: KnownAssetId) -> OnchainResponse:
    """Holders, transfers, mints, burns and net flows (tokens and USD), supply, liquidity,
    exchange flows, NAV and TVL per UTC day with ``start <= day < end``, oldest first; the
    newest ``limit`` days when more match."""
    rows = store.series(ONCHAIN, {"asset_id": asset_id}, query.start, query.end, query.limit)
    return OnchainResponse(
        asset_id=asset_id,
        start=query.start,
        end=query.end,
        count=rows.num_rows,
        metrics=OnchainDayOut.list_from_arrow(rows),
    )
