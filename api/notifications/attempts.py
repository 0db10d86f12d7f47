"""What one delivery attempt came to, and when the next one is due.

An attempt ends in one of three ways: the channel accepted the message (``sent``), it may
accept it later (``retry``: a timeout, a refused connection, 408, 429, a 5xx, an SMTP 4xx),
or it never will (``fail``: any other 4xx, a redirect, a refused address). Retries wait an
exponential backoff with full jitter (a random time up to ``base * 2^(n-1)``, capped), never
less than what the receiver asked for with ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import random
from dataclasses import dataclass

from pipelines.core.settings import NotificationSettings

#: HTTP statuses worth another attempt besides the 5xx: timeout and rate limit.
RETRYABLE_4XX = frozenset({408, 429})
#: Longest error text kept in the delivery log.
ERROR_LENGTH = 500


class Verdict(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    #: The receiver's HTTP status or the SMTP reply code, when there was one.
    status_code: int | None = None
    #: Why it was not sent (never a secret: channels strip tokens before they get here).
    error: str | None = None
    #: Seconds the receiver asked to wait (``Retry-After``, Telegram's ``retry_after``).
    retry_after: float | None = None

    @classmethod
    def sent(cls, status_code: int | None = None) -> Outcome:
        return cls(Verdict.SENT, status_code)

    @classmethod
    def retry(
        cls, error: str, status_code: int | None = None, retry_after: float | None = None
    ) -> Outcome:
        return cls(Verdict.RETRY, status_code, error[:ERROR_LENGTH], retry_after)

    @classmethod
    def fail(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls(Verdict.FAIL, status_code, error[:ERROR_LENGTH])


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def http_outcome(status: int, retry_after: float | None, reason: str) -> Outcome:
    """The outcome of an HTTP answer (``reason``: what to log besides the status)."""
    if 200 <= status < 300:
        return Outcome.sent(status)
    text = f"HTTP {status}" + (f": {reason}" if reason else "")
    if status >= 500 or status in RETRYABLE_4XX:
        return Outcome.retry(text, status, retry_after)
    if 300 <= status < 400:
        return Outcome.fail(f"{text} (redirects are not followed)", status)
    return Outcome.fail(text, status)


def backoff_seconds(
    attempts: int, settings: NotificationSettings, retry_after: float | None = None
) -> float:
    """How long to wait after the ``attempts``-th attempt failed: full jitter, capped, and
    at least ``retry_after`` (itself capped)."""
    ceiling = min(settings.backoff_cap_seconds, settings.backoff_base_seconds * 2 ** (attempts - 1))
    wait = random.uniform(0, ceiling)
    if retry_after is not None:
        wait = max(wait, min(retry_after, settings.backoff_cap_seconds))
    return wait
