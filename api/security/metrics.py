"""Prometheus metrics of the API: request latency per route, status counts, rate-limit
refusals and logins by outcome.

With one worker the metrics live in this process's default registry. With several
(``rwa serve --workers N``) each worker is a process of its own, so ``api.server`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start: prometheus-client
then keeps every value in a memory-mapped file per process, and :func:`exposition` adds them
up, so a scrape sees the whole server whichever worker answers it. The variable must be set
before ``prometheus_client`` is first imported in a worker (it picks its storage at import);
spawned workers import everything afresh, which is why the server sets it before spawning.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

#: Latency buckets in seconds: dense below 50 ms, where the API's targets are.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

#: The route label of a request no route matched (keeps the label set bounded).
UNMATCHED = "<unmatched>"

REQUEST_SECONDS = Histogram(
    "rwa_http_request_duration_seconds",
    "Time from request to the end of the response, per route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
RESPONSES = Counter(
    "rwa_http_responses_total",
    "Responses by route template and status.",
    ["method", "route", "status"],
)
RATE_LIMITED = Counter(
    "rwa_rate_limited_total",
    "Requests refused with 429, by limit (user: the tier's rate; login, 2fa, register: throttles).",
    ["limit"],
)
LOGINS = Counter(
    "rwa_logins_total",
    "Login attempts by outcome (success, failure, 2fa_required, throttled, ...).",
    ["outcome"],
)
EVENTS_HANDED_OUT = Counter(
    "rwa_events_handed_out_total",
    "Events a worker's fan-out handed to its clients, by where it read them first: stream "
    "(Redis) or database (a poll, a notification, a gap the stream left).",
    ["source"],
)
STREAM_FOLLOWERS = Gauge(
    "rwa_events_stream_followers",
    "API workers following the Redis event stream now (redis transport); a worker that is "
    "not reads events from the database every RWA_EVENTS_POLL_SECONDS.",
    multiprocess_mode="livesum",
)


#: Label children by (method, route[, status]): ``labels()`` takes a lock and builds a tuple on
#: every call, and this runs on every request. Bounded: routes are templates, methods few.
_latency: dict[tuple[str, str], Any] = {}
_responses: dict[tuple[str, str, int], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    latency = _latency.get((method, route))
    if latency is None:
        latency = _latency[method, route] = REQUEST_SECONDS.labels(method, route)
    latency.observe(seconds)
    responses = _responses.get((method, route, status))
    if responses is None:
        responses = _responses[method, route, status] = RESPONSES.labels(method, route, str(status))
    responses.inc()


def count_rate_limited(limit: str) -> None:
    RATE_LIMITED.labels(limit).inc()


def count_login(outcome: str) -> None:
    """Count one login attempt (the account routes call it)."""
    LOGINS.labels(outcome).inc()


def count_events_handed_out(source: str, events: int) -> None:
    """Count events a worker's fan-out handed out, read from ``source``."""
    EVENTS_HANDED_OUT.labels(source).inc(events)


def set_stream_followed(followed: bool) -> None:
    """Whether this worker follows the Redis event stream now."""
    STREAM_FOLLOWERS.set(1 if followed else 0)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, summed over the workers in multiprocess mode; and its
    content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
