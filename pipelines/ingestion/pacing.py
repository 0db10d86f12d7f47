"""How patiently a real source is asked: retry delays (exponential backoff with full jitter,
never shorter than the server's ``Retry-After``) and a token-bucket rate limit. The HTTP client
(:mod:`pipelines.ingestion.http`) applies them to every attempt.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pipelines.core.settings import SourceSettings


class Jitter(Protocol):
    """What :meth:`RetryPolicy.delay` needs of a random source (``random.Random`` fits)."""

    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again."""

    max_retries: int
    backoff_base_s: float
    backoff_max_s: float

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError(f"retry policy values must be >= 0, got {self}")

    @classmethod
    def from_settings(cls, settings: SourceSettings) -> RetryPolicy:
        """The policy of ``RWA_HTTP_MAX_RETRIES`` / ``_BACKOFF_BASE_S`` / ``_BACKOFF_MAX_S``."""
        return cls(
            max_retries=settings.http_max_retries,
            backoff_base_s=settings.http_backoff_base_s,
            backoff_max_s=settings.http_backoff_max_s,
        )

    def delay(self, attempt: int, retry_after: float | None, rng: Jitter) -> float:
        """Seconds to wait before retry number ``attempt`` (1 = the first retry).

        Full jitter: uniform in ``[0, min(backoff_max_s, backoff_base_s * 2**(attempt-1))]``, so
        clients that failed together do not retry together. ``retry_after`` (seconds, from the
        server's ``Retry-After``) is a floor that even ``backoff_max_s`` does not lower: retrying
        earlier than asked only earns another 429.
        """
        if attempt < 1:
            raise ValueError(f"attempt counts retries from 1, got {attempt}")
        # The exponent is bounded so huge attempt numbers cannot overflow a float.
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** min(attempt - 1, 62))
        wait = rng.uniform(0.0, ceiling)
        return wait if retry_after is None else max(wait, retry_after)


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP-date (RFC 9110).
    None when absent or unreadable; dates in the past give 0."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # HTTP-dates are always GMT
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


class RateLimiter:
    """Token bucket: on average ``rate_per_s`` acquisitions per second, ``burst`` at once.

    Each caller reserves the next free slot under a lock and sleeps outside it, so concurrent
    callers queue fairly. Reserving (instead of re-checking the clock after sleeping) also keeps
    a fake ``sleep`` in tests from spinning against a real clock.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is free; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._updated, 0.0)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
            self._updated = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate_per_s if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
