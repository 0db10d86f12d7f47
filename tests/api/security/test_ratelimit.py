"""Per-user rate limits and the login / 2FA / registration throttles, on in-process memory
and on a real Redis (two limiters on one database stand for two API workers)."""

from __future__ import annotations

import asyncio

import pytest
import redis
from fastapi import HTTPException

from api.accounts.principal import Principal, Role
from api.security import metrics
from api.security.ratelimit import RateLimits, Throttle, Throttles, TooManyRequests
from pipelines.core.settings import ApiSettings

EXPLORER = Principal(user_id=7, role=Role.EXPLORER)


def settings(storage: str, **fields: object) -> ApiSettings:
    return ApiSettings.model_validate({"RWA_RATE_LIMIT_STORAGE": storage, **fields})


def _refused() -> float:
    return metrics.RATE_LIMITED.labels("user")._value.get()


def test_explorer_gets_100_then_429_with_retry_after() -> None:
    async def scenario() -> None:
        limits = RateLimits(settings("memory://"))
        quotas = [await limits.hit(EXPLORER) for _ in range(100)]
        assert [q.remaining for q in quotas if q][:3] == [99, 98, 97]
        assert quotas[-1] is not None and quotas[-1].remaining == 0
        assert 1 <= quotas[-1].reset_after <= 60
        before = _refused()
        with pytest.raises(TooManyRequests) as refused:
            await limits.hit(EXPLORER)
        assert refused.value.status_code == 429
        headers = refused.value.headers or {}
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert headers["X-RateLimit-Remaining"] == "0"
        assert "explorer tier" in str(refused.value.detail)
        assert _refused() == before + 1
        # Another user of the same tier has a budget of their own.
        assert await limits.hit(Principal(user_id=8, role=Role.EXPLORER)) is not None

    asyncio.run(scenario())


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.ADMIN])
def test_unlimited_tiers_are_not_counted(role: Role) -> None:
    async def scenario() -> None:
        limits = RateLimits(settings("memory://", RWA_RATE_LIMIT_STRATEGY="fixed-window"))
        for _ in range(600):
            assert await limits.hit(Principal(user_id=9, role=role)) is None

    asyncio.run(scenario())


def test_two_workers_share_the_professional_budget_in_redis(redis_url: str) -> None:
    professional = Principal(user_id=11, role=Role.PROFESSIONAL)

    async def scenario() -> None:
        workers = [RateLimits(settings(redis_url)) for _ in range(2)]
        for i in range(500):
            quota = await workers[i % 2].hit(professional)
            assert quota is not None and quota.remaining == 499 - i
        for worker in workers:
            with pytest.raises(TooManyRequests):
                await worker.hit(professional)

    asyncio.run(scenario())


def test_an_unreachable_storage_fails_closed_with_503() -> None:
    async def scenario() -> None:
        limits = RateLimits(settings("redis://127.0.0.1:9/0"))
        with pytest.raises(HTTPException) as refused:
            await limits.hit(EXPLORER)
        assert refused.value.status_code == 503

    asyncio.run(scenario())
    with pytest.raises(HTTPException) as refused:
        Throttles(settings("redis://127.0.0.1:9/0")).check(
            Throttle.LOGIN, account="a@example.com", client="10.0.0.1"
        )
    assert refused.value.status_code == 503


def _fail(throttles: Throttles, account: str, client: str, times: int) -> None:
    for _ in range(times):
        throttles.check(Throttle.LOGIN, account=account, client=client)
        throttles.record_failure(Throttle.LOGIN, account=account, client=client)


def test_login_failures_are_throttled_per_account_and_per_address(redis_url: str) -> None:
    throttles = Throttles(settings(redis_url))
    # Five failures lock the account, from any address, and the same email however spelt.
    _fail(throttles, "victim@example.com", "10.0.0.1", 5)
    for client in ("10.0.0.1", "10.0.0.2"):
        with pytest.raises(TooManyRequests) as refused:
            throttles.check(Throttle.LOGIN, account=" Victim@Example.com", client=client)
        assert 1 <= refused.value.retry_after <= 60
    # The 2FA door has its own counters.
    throttles.check(Throttle.TWO_FACTOR, account="victim@example.com", client="10.0.0.1")
    # One address guessing across accounts: 20 failures in all lock the address.
    for n in range(4):
        _fail(throttles, f"user{n}@example.com", "10.0.0.3", 5 if n < 3 else 4)
    throttles.check(Throttle.LOGIN, account="user9@example.com", client="10.0.0.3")
    throttles.record_failure(Throttle.LOGIN, account="user9@example.com", client="10.0.0.3")
    with pytest.raises(TooManyRequests):
        throttles.check(Throttle.LOGIN, account="fresh@example.com", client="10.0.0.3")
    throttles.check(Throttle.LOGIN, account="fresh@example.com", client="10.0.0.4")
    # No email is written to the storage, only its hash.
    keys = b" ".join(redis.Redis.from_url(redis_url).keys("*"))
    assert b"example.com" not in keys and b"throttle:login:account:" in keys


def test_registration_counts_every_attempt() -> None:
    throttles = Throttles(
        settings(
            "memory://", RWA_THROTTLE_PER_ACCOUNT="2/minute", RWA_THROTTLE_PER_CLIENT="3/minute"
        )
    )
    for account in ("a@example.com", "a@example.com", "b@example.com"):
        throttles.hit(Throttle.REGISTER, account=account, client="10.0.0.5")
    with pytest.raises(TooManyRequests):
        throttles.hit(Throttle.REGISTER, account="a@example.com", client="10.0.0.6")
    with pytest.raises(TooManyRequests):
        throttles.hit(Throttle.REGISTER, account="c@example.com", client="10.0.0.5")


def test_throttle_rates_are_validated() -> None:
    with pytest.raises(ValueError, match="RWA_THROTTLE_PER_ACCOUNT"):
        settings("memory://", RWA_THROTTLE_PER_ACCOUNT="lots")
