"""``GET /health``: liveness of the API and whether the serving store answers."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import State

from api.deps import StoreDep
from api.schemas import HealthOut
from pipelines.serving.store import ServingStore, StoreHealth

router = APIRouter(tags=["health"])

#: How long one check of the store answers for. Load balancers, monitors and dashboards poll
#: /health often; each check is a thread hand-off and a query, which would make this the
#: slowest of the light routes, and a second-old answer is as good to them.
CHECK_SECONDS = 1.0


async def _store_health(request: Request, store: ServingStore) -> StoreHealth:
    """The store's health as checked within the last :data:`CHECK_SECONDS` (by this process).
    One check at a time: the requests that find the last answer expired all await the same
    check (each starting its own made every second a burst of thread hand-offs and queries)."""
    state = request.app.state
    last: tuple[float, StoreHealth] | None = getattr(state, "store_health", None)
    if last is not None and time.monotonic() - last[0] < CHECK_SECONDS:
        return last[1]
    check: asyncio.Future[StoreHealth] | None = getattr(state, "store_health_check", None)
    if check is None:
        check = asyncio.ensure_future(_check_store(state, store))
        state.store_health_check = check
    # Shielded: a client that hangs up must not cancel the check the others await.
    return await asyncio.shield(check)


async def _check_store(state: State, store: ServingStore) -> StoreHealth:
    started = time.monotonic()
    try:
        result = await run_in_threadpool(store.health)
        state.store_health = (started, result)
        return result
    finally:
        state.store_health_check = None


@router.get(
    "/health",
    response_model=HealthOut,
    summary="API and serving-store health",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthOut}},
)
async def health(store: StoreDep, request: Request, response: Response) -> HealthOut:
    """200 when the store answered a trivial query (checked at most once a second); 503 with
    the same body when it did not, so load balancers can act on the status and people can
    read why."""
    result = await _store_health(request, store)
    if not result.ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if result.ok else "degraded",
        store_backend=result.backend,
        store_ok=result.ok,
        detail=result.detail,
        version=request.app.version,
    )
