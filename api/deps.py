"""Dependencies shared by the routes: the serving store, parsed query schemas, path parameters;
the operational database and the authenticated caller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.accounts import credentials
from api.accounts.audit import ClientInfo
from api.accounts.keys import KEY_PREFIX
from api.accounts.principal import Principal, Scope
from api.accounts.service import Accounts
from api.accounts.tables import User
from api.schemas import EconomicQuery, ErrorOut, OhlcvQuery, WindowQuery
from api.security.ratelimit import enforce_rate_limit
from api.security.tiers import refuse_rows_beyond_tier
from pipelines.contracts.reference import Asset, AssetClass
from pipelines.serving.store import ServingStore

log = logging.getLogger(__name__)


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

T = TypeVar("T")


async def memoised_read(store: ServingStore, key: Hashable, compute: Callable[[], T]) -> T:
    """``store.memoised(key, compute)`` without blocking the event loop: answered on the loop
    when the store already holds the result (a dict lookup), else computed in the threadpool
    (a query). A read served from memory this way skips the thread hand-off, which cost more
    than the read itself (docs/benchmarks.md, "API latency")."""
    held = store.recall(key)
    if held is not None:
        return cast(T, held)
    return await run_in_threadpool(store.memoised, key, compute)


async def memoised_body(
    store: ServingStore, key: Hashable, render: Callable[[], Awaitable[bytes]]
) -> bytes:
    """The JSON body ``render`` makes for ``key`` (a route and its query), kept like
    :func:`memoised_read` results: a page asked for again on the same snapshot is sent as it
    was, without filtering, sorting or serialising it again. Bodies count their length against
    the store's memo bound, so queries from clients cannot grow it without limit."""
    held = store.recall(key)
    if isinstance(held, bytes):
        return held
    body = await render()
    return store.memoised(key, lambda: body)


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


async def require_asset(store: StoreDep, asset_id: AssetIdPath) -> str:
    """The path's ``asset_id``, or 404 when the store does not know the asset (a known asset
    without data answers 200 with no rows)."""
    known = await memoised_read(
        store, ("asset known", asset_id), lambda: store.get_asset(asset_id) is not None
    )
    if not known:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"asset {asset_id!r} not found")
    return asset_id


#: The ``asset_id`` of the path, checked to exist.
KnownAssetId = Annotated[str, Depends(require_asset)]


# --- accounts: the operational database and who is asking ---------------------------------


def _accounts_of(request: Request) -> Accounts:
    accounts: Accounts | None = getattr(request.app.state, "accounts", None)
    if accounts is None:
        raise RuntimeError("accounts are not open: run the app with its lifespan")
    return accounts


async def get_accounts(request: Request) -> Accounts:
    return _accounts_of(request)


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def get_db(accounts: AccountsDep) -> Iterator[Session]:
    """One operational-database session per route call."""
    with accounts.database.sessions() as session:
        yield session


#: Closed when the route function returns, not after the response is sent: a session held
#: while a slow client reads its answer would hold a pooled connection, and under load the
#: threads waiting for one would starve the threads that would give theirs back.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


async def client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


Client = Annotated[ClientInfo, Depends(client_info)]

#: Cookie names of web clients (HttpOnly, SameSite=strict; see api.routes.auth).
ACCESS_COOKIE = "rwa_access"
REFRESH_COOKIE = "rwa_refresh"

#: The security schemes the OpenAPI document declares, so /docs can authorise.
_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from POST /auth/login, or an API key (rwa_…).",
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (rwa_…).")

UNAUTHORIZED: Responses = {
    status.HTTP_401_UNAUTHORIZED: {"model": ErrorOut, "description": "No or bad credentials."}
}
#: What routes with a JSON body declare: a body that is not JSON at all.
BAD_REQUEST: Responses = {
    status.HTTP_400_BAD_REQUEST: {"model": ErrorOut, "description": "The body is not JSON."}
}
TOO_MANY_REQUESTS: Responses = {
    status.HTTP_429_TOO_MANY_REQUESTS: {
        "model": ErrorOut,
        "description": "Rate limit or throttle exceeded; retry after `Retry-After` seconds.",
    }
}
FORBIDDEN: Responses = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "Not allowed: the credential lacks a scope, the role is not admin, or "
        "the tier lacks a feature (the detail names the scope or the tier needed).",
    }
}


def unauthorized(detail: str = "not authenticated") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def _principal(request: Request, accounts: Accounts, bearer: str | None) -> Principal | None:
    """The principal of the request's credentials, or None when they are absent or bad: an
    API key (``X-API-Key``, or a Bearer credential starting ``rwa_``), else a Bearer access
    token, else the access-token cookie. From the cache on the event loop when it holds the
    credential; else looked up in the operational database, in the threadpool."""
    # The header itself, not the scheme's value: an empty X-API-Key is a (bad) key too, never
    # a reason to fall back to another credential.
    api_key = request.headers.get(_api_key.model.name)
    if api_key is None and bearer is not None and bearer.startswith(KEY_PREFIX):
        api_key = bearer
    token = None if api_key is not None else bearer or request.cookies.get(ACCESS_COOKIE)
    credential = api_key if api_key is not None else token
    if credential is None:
        return None
    cached = accounts.principals.entry(credential)
    if cached is not None:
        if cached.due_for_refresh():
            _lookup(accounts, credential, api_key=api_key, token=token)
        return cached.principal
    return await asyncio.shield(_lookup(accounts, credential, api_key=api_key, token=token))


def _lookup(
    accounts: Accounts, credential: str, *, api_key: str | None, token: str | None
) -> asyncio.Future[Principal | None]:
    """The lookup of ``credential`` in the operational database (in the threadpool): the one
    under way, else a new one. One per credential at a time: when a busy client's entry
    expires, its many requests in flight wait for that one read instead of each taking a
    thread and a pooled connection to read the same row."""
    in_flight = accounts.principals.in_flight
    lookup = in_flight.get(credential)
    if lookup is None:
        lookup = asyncio.ensure_future(
            run_in_threadpool(
                credentials.resolve,
                accounts.database.sessions,
                accounts.issuer,
                accounts.principals,
                api_key=api_key,
                token=token,
            )
        )
        in_flight[credential] = lookup
        lookup.add_done_callback(lambda done: _settled(in_flight, credential, done))
    return lookup


def _settled(
    in_flight: dict[str, asyncio.Future[Principal | None]],
    credential: str,
    lookup: asyncio.Future[Principal | None],
) -> None:
    in_flight.pop(credential, None)
    # A refresh ahead has no awaiting request: its failure is logged here (the next request
    # past the entry's lifetime looks up again and gets the error itself).
    if not lookup.cancelled() and (error := lookup.exception()) is not None:
        log.warning("credential lookup failed: %s", error)


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
#: Read through the request's headers (see _principal); declared so that the OpenAPI
#: document lists the X-API-Key scheme and /docs can authorise with it.
ApiKeyDep = Annotated[str | None, Depends(_api_key)]


async def authenticated(request: Request, bearer: BearerDep, _declared_key: ApiKeyDep) -> Principal:
    """The caller, from an API key, a Bearer access token or the access-token cookie; else
    401. Stored in ``request.state.principal`` for the rate limits, tier gates and access
    log; a request the router's guard already authenticated is not looked up again."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    credential = bearer.credentials if bearer is not None else None
    presented = credential is not None or _api_key.model.name in request.headers
    if not presented and ACCESS_COOKIE not in request.cookies:
        raise unauthorized()
    principal = await _principal(request, _accounts_of(request), credential)
    if principal is None:
        raise unauthorized("invalid or expired credentials")
    request.state.principal = principal
    return principal


async def optionally_authenticated(request: Request, bearer: BearerDep) -> None:
    """Store the caller's principal when the request carries valid user credentials, and
    nothing otherwise (for /metrics, whose scraper token is no user credential)."""
    credential = bearer.credentials if bearer is not None else None
    principal = await _principal(request, _accounts_of(request), credential)
    if principal is not None:
        request.state.principal = principal


Authenticated = Annotated[Principal, Depends(authenticated)]


def _require_scope(principal: Principal, scope: Scope) -> None:
    if not principal.can(scope):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"needs scope {scope.value}")


def requires_scope(scope: Scope) -> Any:
    """A dependency refusing (403) a credential without ``scope``: an API key made only to
    read data cannot manage the account, nor the reverse. Access tokens have every scope."""

    async def check(principal: Authenticated) -> None:
        _require_scope(principal, scope)

    return Depends(check)


def guarded(scope: Scope | None) -> Any:
    """The one dependency a router of authenticated routes lists: authentication, the
    credential's ``scope`` (when given), the tier's rate limit and its cap on rows, in that
    order. One dependency, not four: FastAPI's solving of each costs more than what most of
    them check (docs/benchmarks.md, "API latency")."""

    async def guard(request: Request, principal: Authenticated) -> None:
        if scope is not None:
            _require_scope(principal, scope)
        await enforce_rate_limit(request)
        await refuse_rows_beyond_tier(request)

    return Depends(guard)


def admin_only(principal: Authenticated) -> Principal:
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="admin role required")
    return principal


AdminOnly = Annotated[Principal, Depends(admin_only)]


def account_of(session: Session, principal: Principal, scope: Scope) -> User:
    """The signed-in user's row, for a route that needs ``scope``: 403 naming the scope when
    the credential (an API key) lacks it."""
    _require_scope(principal, scope)
    user = session.get(User, principal.user_id)
    if user is None:  # deleted between authentication and now
        raise unauthorized()
    return user


def managed_account(session: DbSession, principal: Authenticated) -> User:
    """The signed-in user, for a change to their account (keys, password, 2FA, deletion)."""
    return account_of(session, principal, Scope.MANAGE_ACCOUNT)


ManagedAccount = Annotated[User, Depends(managed_account)]
