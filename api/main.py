"""The FastAPI application factory.

There is no module-level ``app``: importing this module opens nothing. Servers call the
factory (``uvicorn api.main:create_app --factory``, or :func:`api.server.run`), tests call
it with their own store.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from importlib.metadata import PackageNotFoundError, version

from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import JSONResponse
from starlette.routing import compile_path

from api.accounts.principal import Scope
from api.accounts.service import Accounts
from api.deps import (
    BAD_REQUEST,
    FORBIDDEN,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    guarded,
    optionally_authenticated,
)
from api.events import stream
from api.push.hub import EventHub
from api.routes import ACCOUNT_ROUTERS, PUBLIC_ROUTERS, ROUTERS
from api.routes import events as events_route
from api.routes import metrics as metrics_route
from api.security import middleware as security
from api.web import pages
from pipelines.core.errors import NotFoundError, StoreUnavailableError
from pipelines.core.settings import EventsSettings, ServingSettings, Settings, get_settings
from pipelines.serving import open_store
from pipelines.serving.store import ServingStore

StoreFactory = Callable[[], ServingStore]
AccountsFactory = Callable[[], Accounts]

DESCRIPTION = """\
Analytics API of the RWA lakehouse: reference data, market data, on-chain metrics and
features of tokenized real-world assets (treasuries, money-market funds, private credit, real
estate, gold), the stablecoins they settle in and the crypto majors, and the macro series
around them.

It reads only the serving store (DuckDB embedded, or TimescaleDB). Timestamps are ISO-8601 in
UTC; query datetimes without an offset are taken as UTC. Time windows are half-open:
`start <= ts < end`.

Every endpoint but `/health` and `/auth/*` needs credentials: an access token from
`POST /auth/login` as `Authorization: Bearer <token>` (or its HttpOnly cookie), or an API key
as `Authorization: Bearer rwa_…` or `X-API-Key: rwa_…`. `401` means no or bad credentials.
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
    {
        "name": "market",
        "description": "RWA market analytics: value, NAV and premium, yield vs T-bill, holders "
        "and flows per asset, and aggregates by class, network and issuer.",
    },
    {
        "name": "lineage",
        "description": "Provenance of a served number: gold row and run, silver records, "
        "bronze lines and raw envelopes, model version and training window.",
    },
    {"name": "auth", "description": "Register, log in (with TOTP when enabled), refresh, log out."},
    {"name": "account", "description": "The signed-in account: password, export, deletion."},
    {"name": "admin", "description": "Users, tiers and the audit log (admins only)."},
    {
        "name": "alerts",
        "description": "Your alert rules (price, moves, peg, NAV premium, risk, sentiment, "
        "forecast, on-chain supply and holders), and alerts written in plain language.",
    },
    {
        "name": "events",
        "description": "Live events (prices, your alerts, portfolios, news) as Server-Sent "
        "Events; the same over the WebSocket /ws (docs/api.md).",
    },
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


def _lifespan(
    store_factory: StoreFactory, accounts_factory: AccountsFactory, events: EventsSettings
) -> Callable[[FastAPI], AsyncIterator[None]]:
    """Open the store and the accounts (migrating the operational database) and start the
    worker's event fan-out once when the server starts; stop and close them when it stops."""

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        accounts = accounts_factory()
        try:
            store = store_factory()
        except BaseException:
            accounts.close()
            raise
        app.state.store = store
        app.state.accounts = accounts
        hub = EventHub(accounts.database, events)
        relay = None
        try:
            # Events this process publishes reach the Redis stream too (redis transport).
            relay = stream.attach(accounts.database.sessions, events)
            await hub.start()
            app.state.events = hub
            yield
        finally:
            await hub.stop()
            if relay is not None:
                relay.close()
            store.close()
            accounts.close()
            del app.state.store, app.state.accounts

    return lifespan


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": f"serving store unavailable: {exc}"},
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document lists at the request's path. (The app's routes are
    FastAPI's wrappers of the included routers, not ``APIRoute``s, so the document is the
    reliable list; built once per app.)"""
    paths: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if paths is None:
        paths = [
            (compile_path(path)[0], sorted(method.upper() for method in operations))
            for path, operations in request.app.openapi()["paths"].items()
        ]
        request.app.state.allowed_methods = paths
    return next((methods for pattern, methods in paths if pattern.match(request.url.path)), [])


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's 405 lists the methods of the first route of the path only; where several
    routes serve one path (GET and DELETE /me) ``Allow`` must name them all."""
    return JSONResponse(
        status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
        content={"detail": "Method Not Allowed"},
        headers={"Allow": ", ".join(_allowed_methods(request))},
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(exc)})


def open_accounts(settings: Settings) -> Accounts:
    return Accounts.open(settings.ops_db, settings.auth, settings.orchestration.deployment)


def create_app(
    store_factory: StoreFactory | None = None,
    serving: ServingSettings | None = None,
    *,
    settings: Settings | None = None,
) -> FastAPI:
    """Build the API. ``store_factory`` defaults to opening the serving store that ``serving``
    configures read-only; the accounts' database and keys follow ``settings`` (both default
    to the environment's)."""
    settings = settings or get_settings()
    if store_factory is None:
        store_factory = partial(open_read_only, serving or settings.serving)
    app = FastAPI(
        title="RWA Lakehouse API",
        version=_api_version(),
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=asynccontextmanager(
            _lifespan(store_factory, partial(open_accounts, settings), settings.events)
        ),
    )
    # What routes that read more than the store need (the admin's pipeline status: the lake).
    app.state.settings = settings
    # Store errors raised on purpose become clear statuses instead of a bare 500.
    app.add_exception_handler(StoreUnavailableError, _store_unavailable)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    for router in ROUTERS:
        if any(router is public for public in PUBLIC_ROUTERS):
            app.include_router(router)
            continue
        account = any(router is r for r in ACCOUNT_ROUTERS)
        scope = None if account else Scope.READ_DATA
        # Account routes take JSON bodies: one that cannot be decoded is a 400.
        body_errors = BAD_REQUEST if account else {}
        # The guard authenticates, then checks the scope, the rate limit and the cap on rows
        # (read from `limit` wherever a route has one, api.security.tiers).
        app.include_router(
            router,
            dependencies=[guarded(scope)],
            responses=UNAUTHORIZED | FORBIDDEN | TOO_MANY_REQUESTS | body_errors,
        )
    # Not among the data routers: a scraper's token is not a user credential, so user
    # credentials are optional there (the route answers 401 when it has neither).
    app.include_router(metrics_route.router, dependencies=[Depends(optionally_authenticated)])
    # The WebSocket authenticates its handshake itself (api.push.clients).
    app.include_router(events_route.ws_router)
    # The dashboard: HTML pages behind the same login, reading the routes above.
    pages.install(app)
    security.install(app, settings.api)
    return app
