"""Dependencies shared by the routes: the serving store, parsed query schemas, path parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status

from api.schemas import EconomicQuery, ErrorOut, OhlcvQuery, WindowQuery
from pipelines.contracts.reference import Asset, AssetClass
from pipelines.serving.store import ServingStore


async def get_store(request: Request) -> ServingStore:
    """The store the lifespan opened; one per process, shared by all requests. Async because
    it never blocks: FastAPI runs a plain ``def`` dependency in its thread pool, a hop that
    costs more than this does."""
    store: ServingStore | None = getattr(request.app.state, "store", None)
    if store is None:
        # Only reachable when the app is driven without its lifespan (e.g. a bare TestClient).
        raise RuntimeError("serving store is not open: run the app with its lifespan")
    return store


StoreDep = Annotated[ServingStore, Depends(get_store)]

#: Optional asset-class filter; FastAPI's 422 lists the allowed classes.
AssetClassFilter = Annotated[AssetClass | None, Query(description="Only assets of this class.")]

#: The query parameters of each time-series endpoint, validated together (start < end).
OhlcvQueryDep = Annotated[OhlcvQuery, Query()]
WindowQueryDep = Annotated[WindowQuery, Query()]
EconomicQueryDep = Annotated[EconomicQuery, Query()]


#: The ``asset_id`` path parameter.
AssetIdPath = Annotated[
    str,
    Path(description="Asset slug as listed by GET /assets, e.g. 'ousg'.", examples=["ousg"]),
]

Responses = dict[int | str, dict[str, Any]]

#: The 404 of every route under /assets/{asset_id}, for the OpenAPI document.
ASSET_NOT_FOUND: Responses = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "Unknown asset."}
}

#: What every router that reads the store declares: the app answers 503 when the store cannot
#: be reached (api.main's handler of StoreUnavailableError), with an :class:`ErrorOut` body.
STORE_UNAVAILABLE: Responses = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "The serving store cannot be reached.",
    }
}


def asset_or_404(store: ServingStore, asset_id: str) -> Asset:
    asset = store.get_asset(asset_id)
    if asset is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"asset {asset_id!r} not found")
    return asset


def require_asset(store: StoreDep, asset_id: AssetIdPath) -> str:
    """The path's ``asset_id``, or 404 when the store does not know the asset (a known asset
    without data answers 200 with no rows)."""
    asset_or_404(store, asset_id)
    return asset_id


#: The ``asset_id`` of the path, checked to exist.
KnownAssetId = Annotated[str, Depends(require_asset)]
