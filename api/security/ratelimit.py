"""Rate limits: per user by tier on every authenticated route, and throttles on the doors
password guessers knock at (login, 2FA verification, registration).

Counters live where ``settings.api.rate_limit_storage`` says: ``memory://`` holds them in the
process (the embedded default, one worker), ``redis://host:port/db`` in Redis, shared by every
worker and every server, so a limit holds whichever process answers. Both go through the
``limits`` library; per-user limits use its asyncio API (one Redis round trip does not block
the event loop), throttles its synchronous API (account routes run in the threadpool).

A refused request gets 429 with ``Retry-After`` (seconds). A limited request's quota goes to
``request.state.rate_limit``; the security middleware turns it into ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (seconds until the window frees a request)
on whatever response the route produces. Unlimited tiers get no such headers. When the storage
cannot be reached, requests fail closed with 503: a limiter that silently lets everything
through would defeat the throttles.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits import strategies as sync_strategies
from limits.aio import strategies as async_strategies
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.storage import Storage as AsyncStorage
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage

from api.accounts.principal import Principal
from api.security import metrics
from api.security.tiers import MATRIX, principal_of
from pipelines.core.settings import ApiSettings

#: Prefix of every key this API writes to the storage (a shared Redis stays readable).
KEY_PREFIX = "rwa"


class Throttle(StrEnum):
    """The doors that are throttled per account and per client address."""

    LOGIN = "login"
    TWO_FACTOR = "2fa"
    REGISTER = "register"


@dataclass(frozen=True, slots=True)
class Quota:
    """Where a caller stands after a counted request."""

    limit: int
    remaining: int
    #: Seconds until the window frees a request (at least 1).
    reset_after: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }


class TooManyRequests(HTTPException):
    """429 with ``Retry-After``; what limits and throttles raise."""

    def __init__(
        self, retry_after: int, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=detail,
            headers={**(headers or {}), "Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def _seconds_until(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))


def _unavailable(exc: Exception) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"rate-limit storage unavailable ({type(exc).__name__})",
    )


def _is_redis(uri: str) -> bool:
    return uri.startswith(("redis://", "rediss://", "redis+unix://"))


def _async_storage(uri: str) -> AsyncStorage:
    if uri.startswith("memory://"):
        return AsyncMemoryStorage()
    if _is_redis(uri):
        return AsyncRedisStorage(f"async+{uri}", implementation="redispy", wrap_exceptions=True)
    raise ValueError(f"unsupported rate-limit storage {uri!r}: use memory:// or redis://")


def _sync_storage(uri: str) -> Storage:
    if uri.startswith("memory://"):
        return MemoryStorage()
    if _is_redis(uri):
        return RedisStorage(uri, wrap_exceptions=True)
    raise ValueError(f"unsupported rate-limit storage {uri!r}: use memory:// or redis://")


def _async_limiter(strategy: str, storage: AsyncStorage) -> async_strategies.RateLimiter:
    if strategy == "fixed-window":
        return async_strategies.FixedWindowRateLimiter(storage)
    if strategy == "sliding-window-counter":
        return async_strategies.SlidingWindowCounterRateLimiter(storage)
    return async_strategies.MovingWindowRateLimiter(storage)


class RateLimits:
    """Per-user limits by tier (``tiers.MATRIX``), keyed by user id."""

    def __init__(self, api: ApiSettings) -> None:
        self._limiter = _async_limiter(
            api.rate_limit_strategy, _async_storage(api.rate_limit_storage)
        )
        self._items: dict[int, RateLimitItem] = {}

    def _item(self, per_minute: int) -> RateLimitItem:
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(
                per_minute, namespace=KEY_PREFIX
            )
        return item

    async def hit(self, principal: Principal) -> Quota | None:
        """Count one request of ``principal``; its quota, or None for an unlimited tier.
        Raises :class:`TooManyRequests` when the tier's limit is spent."""
        per_minute = MATRIX[principal.role].requests_per_minute
        if per_minute is None:
            return None
        item = self._item(per_minute)
        key = f"user:{principal.user_id}"
        try:
            allowed = await self._limiter.hit(item, key)
            stats = await self._limiter.get_window_stats(item, key)
        except StorageError as exc:
            raise _unavailable(exc) from exc
        quota = Quota(per_minute, max(0, stats.remaining), _seconds_until(stats.reset_time))
        if not allowed:
            metrics.count_rate_limited("user")
            raise TooManyRequests(
                quota.reset_after,
                f"rate limit of the {principal.role.value} tier exceeded "
                f"({per_minute} requests per minute)",
                headers=quota.headers(),
            )
        return quota


class Throttles:
    """Attempts at login, 2FA verification and registration, counted per account (the email
    or user id, hashed: no address is written to the storage) and per client address.

    Login and 2FA count failures (:meth:`check` before the attempt, :meth:`record_failure`
    after a wrong password or code), so an honest user is not locked out by logging in often;
    registration counts every attempt (:meth:`hit`). Synchronous: call it from ``def`` routes.
    """

    def __init__(self, api: ApiSettings) -> None:
        self._limiter = sync_strategies.MovingWindowRateLimiter(
            _sync_storage(api.rate_limit_storage)
        )
        self._per_account = parse(api.throttle_per_account)
        self._per_client = parse(api.throttle_per_client)

    def _buckets(
        self, kind: Throttle, account: str, client: str
    ) -> list[tuple[RateLimitItem, str]]:
        account_key = hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]
        return [
            (self._per_account, f"{KEY_PREFIX}:throttle:{kind.value}:account:{account_key}"),
            (self._per_client, f"{KEY_PREFIX}:throttle:{kind.value}:client:{client}"),
        ]

    def _refuse(self, kind: Throttle, item: RateLimitItem, key: str) -> TooManyRequests:
        stats = self._limiter.get_window_stats(item, key)
        metrics.count_rate_limited(kind.value)
        return TooManyRequests(
            _seconds_until(stats.reset_time), f"too many {kind.value} attempts; try again later"
        )

    def _count(self, kind: Throttle, account: str, client: str, *, consume: bool) -> None:
        """Test (or consume) one attempt on both buckets; refuse on the first one spent."""
        try:
            for item, key in self._buckets(kind, account, client):
                counted = self._limiter.hit if consume else self._limiter.test
                if not counted(item, key):
                    raise self._refuse(kind, item, key)
        except StorageError as exc:
            raise _unavailable(exc) from exc

    def check(self, kind: Throttle, *, account: str, client: str) -> None:
        """Raise :class:`TooManyRequests` if the account or the address has no attempt left."""
        self._count(kind, account, client, consume=False)

    def hit(self, kind: Throttle, *, account: str, client: str) -> None:
        """Count one attempt; raise :class:`TooManyRequests` when it is one too many."""
        self._count(kind, account, client, consume=True)

    def record_failure(self, kind: Throttle, *, account: str, client: str) -> None:
        """Count one failed attempt against the account and the address (never refuses: the
        answer to this attempt is already decided)."""
        try:
            for item, key in self._buckets(kind, account, client):
                self._limiter.hit(item, key)
        except StorageError as exc:
            raise _unavailable(exc) from exc


def client_address(request: Request) -> str:
    """The caller's address as the server saw it (uvicorn applies X-Forwarded-For only from
    the proxies it trusts, ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "unknown"


def _app_state(app: FastAPI, name: str, build: type[Any]) -> Any:
    # Built on first use, once per process: each worker holds its own connection pool. From
    # the settings the app was built with (api.security.middleware.install stores them), never
    # a fresh read of the environment.
    existing = getattr(app.state, name, None)
    if existing is None:
        existing = build(app.state.api_settings)
        setattr(app.state, name, existing)
    return existing


def get_rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = _app_state(request.app, "rate_limits", RateLimits)
    return limits


def get_throttles(request: Request) -> Throttles:
    """The app's throttles (a dependency for the account routes)."""
    throttles: Throttles = _app_state(request.app, "throttles", Throttles)
    return throttles


ThrottlesDep = Annotated[Throttles, Depends(get_throttles)]


async def enforce_rate_limit(request: Request) -> None:
    """Count the request against its principal's tier (after authentication); 429 when over."""
    quota = await get_rate_limits(request).hit(principal_of(request))
    if quota is not None:
        request.state.rate_limit = quota


#: The dependency every authenticated route lists after authentication.
RATE_LIMITED: Any = Depends(enforce_rate_limit)
