"""Dependencies shared by the routes: the serving store, parsed query schemas, path parameters;
the operational database and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.accounts import sessions
from api.accounts.audit import ClientInfo
from api.accounts.keys import KEY_PREFIX, principal_for_key
from api.accounts.principal import Principal, Role, Scope
from api.accounts.service import Accounts
from api.accounts.tables import User
from api.accounts.tokens import InvalidTokenError, TokenType
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


# --- accounts: the operational database and who is asking ---------------------------------


async def get_accounts(request: Request) -> Accounts:
    accounts: Accounts | None = getattr(request.app.state, "accounts", None)
    if accounts is None:
        raise RuntimeError("accounts are not open: run the app with its lifespan")
    return accounts


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


def _token_principal(session: Session, accounts: Accounts, token: str) -> Principal | None:
    try:
        claims = accounts.issuer.decode(token, TokenType.ACCESS)
    except InvalidTokenError:
        return None
    user = session.get(User, claims.user_id)
    # Checked on every request so a deactivation, a tier change or a password change (which
    # ends the sessions before it) takes effect at once, not when the token expires.
    if user is None or not user.is_active:
        return None
    if not sessions.is_current(claims.issued_at, user.password_changed_at):
        return None
    return Principal(user_id=user.id, role=Role(user.role))


def _principal(request: Request, accounts: Accounts, bearer: str | None) -> Principal | None:
    """The principal of the request's credentials, or None when they are absent or bad: an
    API key (``X-API-Key``, or a Bearer credential starting ``rwa_``), else a Bearer access
    token, else the access-token cookie."""
    # The header itself, not the scheme's value: an empty X-API-Key is a (bad) key too, never
    # a reason to fall back to another credential.
    api_key = request.headers.get(_api_key.model.name)
    token = bearer or request.cookies.get(ACCESS_COOKIE)
    if api_key is None and token is None:
        return None
    # A session of its own, closed before the route runs: every request authenticates, and
    # a data read must not keep an operational-database connection while it works.
    with accounts.database.sessions() as session:
        if api_key is not None or (bearer or "").startswith(KEY_PREFIX):
            return principal_for_key(session, api_key or bearer or "")
        return None if token is None else _token_principal(session, accounts, token)


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
#: Read through the request's headers (see _principal); declared so that the OpenAPI
#: document lists the X-API-Key scheme and /docs can authorise with it.
ApiKeyDep = Annotated[str | None, Depends(_api_key)]


def authenticated(
    request: Request,
    accounts: AccountsDep,
    bearer: BearerDep,
    _declared_key: ApiKeyDep,
) -> Principal:
    """The caller, from an API key, a Bearer access token or the access-token cookie; else
    401. Stored in ``request.state.principal`` for the rate limits, tier gates and access
    log."""
    credential = bearer.credentials if bearer is not None else None
    presented = credential is not None or _api_key.model.name in request.headers
    if not presented and ACCESS_COOKIE not in request.cookies:
        raise unauthorized()
    principal = _principal(request, accounts, credential)
    if principal is None:
        raise unauthorized("invalid or expired credentials")
    request.state.principal = principal
    return principal


def optionally_authenticated(request: Request, accounts: AccountsDep, bearer: BearerDep) -> None:
    """Store the caller's principal when the request carries valid user credentials, and
    nothing otherwise (for /metrics, whose scraper token is no user credential)."""
    principal = _principal(request, accounts, bearer.credentials if bearer is not None else None)
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
