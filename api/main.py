"""The FastAPI application factory.

There is no module-level ``app``: importing this module opens nothing. Servers call the
factory (``uvicorn api.main:create_app --factory``, or :func:`api.server.run`), tests call
it with their own store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from api.routes import ROUTERS
from api.routes import metrics as metrics_route
from api.security import middleware as security
from pipelines.core.errors import NotFoundError, StoreUnavailableError
from pipelines.core.settings import ServingSettings, get_settings
from pipelines.serving import open_store
from pipelines.serving.store import ServingStore

StoreFactory = Callable[[], ServingStore]

DESCRIPTION = """\
Analytics API of the RWA lakehouse: reference data, market data, on-chain metrics and
features of tokenized real-world assets (treasuries, money-market funds, private credit, real
estate, gold), the stablecoins they settle in and the crypto majors, and the macro series
around them.

It reads only the serving store (DuckDB embedded, or TimescaleDB). Timestamps are ISO-8601 in
UTC; query datetimes without an offset are taken as UTC. Time windows are half-open:
`start <= ts < end`.
"""

OPENAPI_TAGS = [
    {"name": "health", "description": "Liveness of the API and of the serving store."},
    {"name": "assets", "description": "Reference data of the covered assets."},
    {
        "name": "market data",
        "description": "OHLCV bars per asset at 1m, 5m, 1h, 1d and 1w; daily features.",
    },
    {"name": "on-chain", "description": "Daily on-chain metrics per asset."},
    {"name": "macro", "description": "Macroeconomic series (FRED, World Bank)."},
    {"name": "predictions", "description": "7- and 30-day price forecasts with intervals."},
    {"name": "sentiment", "description": "Daily news sentiment per asset (FinBERT or lexicon)."},
    {"name": "risk", "description": "Risk scores 1-100 with sub-scores and their factors."},
]


def _api_version() -> str:
    try:
        return version("rwa-lakehouse")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def open_read_only(serving: ServingSettings) -> ServingStore:
    """The store ``serving`` configures, as the API reads it, its schema checked; raises
    StoreUnavailableError when it cannot serve."""
    # Read-only: the API never writes. DuckDB then reads the published snapshot and follows
    # each newly published one, so loads go on beside it; TimescaleDB refuses writes.
    store = open_store(serving, read_only=True)
    try:
        # On a read-only store this only checks the schema, so a store no loader has
        # migrated yet fails the start with a clear message instead of 500s on every read.
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def _lifespan(store_factory: StoreFactory) -> Callable[[FastAPI], AsyncIterator[None]]:
    """Open the store once when the server starts and close it when it stops."""

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = store_factory()
        app.state.store = store
        try:
            yield
        finally:
            store.close()
            del app.state.store

    return lifespan


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": f"serving store unavailable: {exc}"},
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(exc)})


def create_app(
    store_factory: StoreFactory | None = None, serving: ServingSettings | None = None
) -> FastAPI:
    """Build the API. ``store_factory`` defaults to opening the serving store that ``serving``
    configures (default: read from the environment) read-only."""
    if store_factory is None:
        store_factory = partial(open_read_only, serving or get_settings().serving)
    app = FastAPI(
        title="RWA Lakehouse API",
        version=_api_version(),
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=asynccontextmanager(_lifespan(store_factory)),
    )
    # Store errors raised on purpose become clear statuses instead of a bare 500.
    app.add_exception_handler(StoreUnavailableError, _store_unavailable)
    app.add_exception_handler(NotFoundError, _not_found)
    for router in ROUTERS:
        app.include_router(router)
    # Not among the data routers: a scraper's token is not a user credential.
    app.include_router(metrics_route.router)
    security.install(app, get_settings().api)
    return app
