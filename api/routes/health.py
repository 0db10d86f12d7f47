"""``GET /health``: liveness of the API and whether the serving store answers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.deps import StoreDep
from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    summary="API and serving-store health",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthOut}},
)
def health(store: StoreDep, request: Request, response: Response) -> HealthOut:
    """200 when the store answers a trivial query; 503 with the same body when it does not,
    so load balancers can act on the status and people can read why."""
    result = store.health()
    if not result.ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if result.ok else "degraded",
        store_backend=result.backend,
        store_ok=result.ok,
        detail=result.detail,
        version=request.app.version,
    )
