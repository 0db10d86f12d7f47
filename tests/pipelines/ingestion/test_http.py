"""The shared HTTP client against a real local server: retries, backoff, rate limit, errors."""

from __future__ import annotations

import datetime as dt
import logging
import random
import socket

import pytest
from pydantic import SecretStr

from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.settings import Settings
from pipelines.ingestion.http import (
    REDACTED,
    RETRYABLE_STATUSES,
    HttpClient,
    api_error_message,
    render_endpoint,
    require_key,
)
from pipelines.ingestion.pacing import RateLimiter, RetryPolicy, parse_retry_after
from tests.fixtures.http_replay import RecordingSleep, ReplayServer, Reply, fixture_json

TRUNCATED = b'{"prices": [[1704067241331,'


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Ceiling:
    """A 'random' source that always answers the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def make_client(
    server: ReplayServer,
    sleep: RecordingSleep,
    *,
    max_retries: int = 3,
    base_s: float = 0.5,
    max_s: float = 30.0,
    timeout_s: float = 5.0,
    **kwargs: object,
) -> HttpClient:
    return HttpClient(
        "testsrc",
        base_url=str(kwargs.pop("base_url", server.url)),
        retry=RetryPolicy(max_retries, base_s, max_s),
        timeout_s=timeout_s,
        sleep=sleep,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


# -- success ---------------------------------------------------------------------------------


def test_get_joins_base_url_and_sends_params(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/api/v3/coins/list", [Reply(json=[{"id": "bitcoin"}])])
    client = make_client(replay_server, sleep, base_url=replay_server.url + "/api/v3/")
    before = dt.datetime.now(dt.UTC)
    with client:
        response = client.get("/coins/list", {"include_platform": "false", "page": 2, "x": None})
    assert response.status == 200
    assert response.json() == [{"id": "bitcoin"}]
    assert response.headers["content-type"] == "application/json"
    assert response.headers["Content-Type"] == "application/json"  # case-insensitive
    assert response.fetched_at.tzinfo is dt.UTC and response.fetched_at >= before
    assert response.source == "testsrc"
    (request,) = replay_server.requests
    assert request.path == "/api/v3/coins/list"
    assert request.query == {"include_platform": "false", "page": "2"}  # None is left out
    assert request.headers["user-agent"].startswith("rwa-lakehouse/")
    assert sleep.calls == []


def test_absolute_urls_are_used_as_is(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/feeds/rwa.xml", [Reply(body="<rss/>", content_type="application/xml")])
    client = make_client(replay_server, sleep, base_url="http://api.example.invalid")
    response = client.get(f"{replay_server.url}/feeds/rwa.xml?lang=en", {"n": 5})
    assert response.text == "<rss/>"
    assert replay_server.requests[0].query == {"lang": "en", "n": "5"}


def test_default_params_and_headers_go_with_every_request(
    replay_server: ReplayServer, sleep: RecordingSleep
):
    replay_server.script("/series", [Reply(json={})])
    client = make_client(
        replay_server, sleep, params={"file_type": "json"}, headers={"X-Trace": "t1"}
    )
    client.get("/series", {"series_id": "DFF"})
    client.get("/series", {"series_id": "DGS10", "file_type": "xml"})  # per call wins
    first, second = replay_server.requests
    assert first.query == {"file_type": "json", "series_id": "DFF"}
    assert second.query == {"file_type": "xml", "series_id": "DGS10"}
    assert first.headers["x-trace"] == "t1"


# -- retries ---------------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_header(
    replay_server: ReplayServer, sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
):
    rate_limited = fixture_json("coingecko/error_rate_limit.json")
    replay_server.script(
        "/coins/bitcoin/ohlc",
        [
            Reply(429, json=rate_limited, headers={"Retry-After": "7"}),
            Reply(json=[[1, 2, 3, 4, 5]]),
        ],
    )
    # Backoff alone would wait at most 0.05 s: only Retry-After explains a 7 s wait.
    client = make_client(replay_server, sleep, base_s=0.01, max_s=0.05)
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.http"):
        response = client.get("/coins/bitcoin/ohlc", {"days": 7})
    assert response.json() == [[1, 2, 3, 4, 5]]
    assert len(sleep.calls) == 1 and sleep.calls[0] >= 7.0
    assert len(replay_server.requests) == 2
    (record,) = caplog.records
    assert record.name == "pipelines.ingestion.http"
    assert "HTTP 429" in record.getMessage() and "retry 1 of 3" in record.getMessage()
    assert "exceeded the Rate Limit" in record.getMessage()


def test_retry_after_as_http_date_is_honoured(replay_server: ReplayServer, sleep: RecordingSleep):
    in_a_minute = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    header = in_a_minute.strftime("%a, %d %b %Y %H:%M:%S GMT")
    replay_server.script("/x", [Reply(503, headers={"Retry-After": header}), Reply(json={})])
    make_client(replay_server, sleep, base_s=0.01, max_s=0.05).get("/x")
    assert 55.0 <= sleep.calls[0] <= 60.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        (" 3 ", 3.0),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None):
    now = dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.UTC)
    assert parse_retry_after(value, now=now) == expected


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_recover(
    replay_server: ReplayServer, sleep: RecordingSleep, status: int
):
    replay_server.script("/x", [Reply(status), Reply(json={"ok": True})])
    assert make_client(replay_server, sleep).get("/x").json() == {"ok": True}
    assert len(replay_server.requests) == 2
    assert len(sleep.calls) == 1


def test_500_then_200_recovers_and_returns_the_200(
    replay_server: ReplayServer, sleep: RecordingSleep
):
    replay_server.script(
        "/x", [Reply(500), Reply(500), Reply.fixture("coingecko/market_chart_range.json")]
    )
    response = make_client(replay_server, sleep).get("/x")
    assert response.json() == fixture_json("coingecko/market_chart_range.json")
    assert len(sleep.calls) == 2


def test_retries_exhausted_raise_a_retryable_error(
    replay_server: ReplayServer, sleep: RecordingSleep
):
    replay_server.script("/x", [Reply(503, json={"message": "upstream overloaded"})])
    with pytest.raises(FetchError) as caught:
        make_client(replay_server, sleep, max_retries=2).get("/x", {"q": "a"})
    error = caught.value
    assert error.retryable is True
    assert error.status == 503
    assert error.source == "testsrc"
    assert error.url == f"{replay_server.url}/x?q=a"
    message = str(error)
    assert message.startswith(f"testsrc: GET {replay_server.url}/x?q=a failed after 3 attempts")
    assert "HTTP 503 Service Unavailable: upstream overloaded" in message
    assert len(replay_server.requests) == 3
    assert len(sleep.calls) == 2


def test_no_retries_means_one_attempt(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/x", [Reply(500)])
    with pytest.raises(FetchError, match="failed after 1 attempt: HTTP 500"):
        make_client(replay_server, sleep, max_retries=0).get("/x")
    assert sleep.calls == []


def test_timeouts_are_retried_then_fail_retryable(
    replay_server: ReplayServer, sleep: RecordingSleep
):
    replay_server.script("/slow", [Reply(delay_s=2.0, json={})])
    client = make_client(replay_server, sleep, max_retries=2, timeout_s=0.2)
    with pytest.raises(FetchError) as caught:
        client.get("/slow")
    assert caught.value.retryable is True
    assert caught.value.status is None
    assert "failed after 3 attempts: no answer within 0.2 s (ReadTimeout)" in str(caught.value)
    assert len(replay_server.requests) == 3
    assert len(sleep.calls) == 2


def test_a_timeout_then_an_answer_recovers(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/slow", [Reply(delay_s=2.0, json={}), Reply(json={"late": False})])
    client = make_client(replay_server, sleep, timeout_s=0.2)
    assert client.get("/slow").json() == {"late": False}


def test_truncated_bodies_are_retried(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/x", [Reply(body=TRUNCATED, truncated=True), Reply(json={"prices": []})])
    assert make_client(replay_server, sleep).get("/x").json() == {"prices": []}
    assert len(replay_server.requests) == 2


def test_always_truncated_fails_retryable(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/x", [Reply(body=TRUNCATED, truncated=True)])
    with pytest.raises(FetchError, match="RemoteProtocolError") as caught:
        make_client(replay_server, sleep, max_retries=1).get("/x")
    assert caught.value.retryable is True


def test_refused_connections_are_retried(sleep: RecordingSleep):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpClient(
        "testsrc",
        base_url=f"http://127.0.0.1:{port}",
        retry=RetryPolicy(2, 0.5, 30.0),
        timeout_s=2.0,
        sleep=sleep,
    )
    with pytest.raises(FetchError, match="after 3 attempts: ConnectError") as caught:
        client.get("/x")
    assert caught.value.retryable is True
    assert len(sleep.calls) == 2


# -- fatal errors ----------------------------------------------------------------------------


def test_404_is_fatal_at_once_with_the_api_message(
    replay_server: ReplayServer, sleep: RecordingSleep
):
    replay_server.script(
        "/coins/nope/ohlc", [Reply.fixture("coingecko/error_coin_not_found.json", status=404)]
    )
    with pytest.raises(FetchError) as caught:
        make_client(replay_server, sleep).get("/coins/nope/ohlc", {"days": 1})
    error = caught.value
    assert error.retryable is False
    assert error.status == 404
    assert str(error) == (
        f"testsrc: GET {replay_server.url}/coins/nope/ohlc?days=1 failed with "
        "HTTP 404 Not Found: coin not found"
    )
    assert len(replay_server.requests) == 1
    assert sleep.calls == []


def test_unscripted_paths_answer_404(replay_server: ReplayServer, sleep: RecordingSleep):
    with pytest.raises(FetchError, match="HTTP 404 Not Found: no reply scripted for /nothing"):
        make_client(replay_server, sleep).get("/nothing")


def test_nested_api_messages_are_found(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/x", [Reply.fixture("coingecko/error_api_key_missing.json", status=401)])
    with pytest.raises(FetchError, match="HTTP 401 Unauthorized: API Key Missing"):
        make_client(replay_server, sleep).get("/x")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error_code": 400, "error_message": "Bad Request.  Bad series_id."}', "Bad Request."),
        (
            '{"status": "error", "code": "apiKeyInvalid", "message": "Your API key is invalid."}',
            "Your API key is invalid.",
        ),
        ('"Protocol not found"', "Protocol not found"),
        (
            "<html><body><h1>403 Forbidden</h1> Access denied</body></html>",
            "403 Forbidden Access denied",
        ),
        ("plain text\n  error", "plain text error"),
        ("", ""),
    ],
)
def test_api_error_message(body: str, expected: str):
    assert api_error_message(body).startswith(expected)


def test_long_error_bodies_are_shortened():
    assert len(api_error_message("x" * 5000)) == 200


def test_malformed_json_is_fatal(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/x", [Reply(body=TRUNCATED)])  # complete answer, broken JSON
    response = make_client(replay_server, sleep).get("/x")
    with pytest.raises(FetchError) as caught:
        response.json()
    error = caught.value
    assert error.retryable is False
    assert error.status == 200
    assert str(error).startswith(f"testsrc: response from {replay_server.url}/x is not valid JSON:")
    assert "prices" in str(error)  # the start of the body is shown
    assert len(replay_server.requests) == 1


def test_empty_body_is_not_json(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/x", [Reply(body=b"")])
    with pytest.raises(FetchError, match="is not valid JSON: the body is empty"):
        make_client(replay_server, sleep).get("/x").json()


# -- secrets ---------------------------------------------------------------------------------


def test_secrets_never_reach_errors_or_logs(
    replay_server: ReplayServer, sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
):
    # An API that echoes the key back in its error body, as some do.
    replay_server.script(
        "/x", [Reply(503, json={"message": "key fred-SECRET-42 and CG-SECRET-7 are throttled"})]
    )
    client = make_client(
        replay_server,
        sleep,
        max_retries=1,
        headers={"x-cg-demo-api-key": "CG-SECRET-7"},
        params={"api_key": "fred-SECRET-42"},
    )
    with caplog.at_level(logging.WARNING), pytest.raises(FetchError) as caught:
        client.get("/x", {"x_cg_demo_api_key": "CG-PERCALL-9", "q": "usd"})
    text = str(caught.value) + caught.value.url + caplog.text
    for secret in ("SECRET", "PERCALL"):
        assert secret not in text
    assert f"api_key={REDACTED}" in caught.value.url
    assert f"x_cg_demo_api_key={REDACTED}" in caught.value.url
    assert "q=usd" in caught.value.url
    # ...while the server did get the real values.
    request = replay_server.requests[0]
    assert request.headers["x-cg-demo-api-key"] == "CG-SECRET-7"
    assert request.query["api_key"] == "fred-SECRET-42"


def test_redact_url_covers_passwords_and_embedded_keys(sleep: RecordingSleep):
    client = HttpClient("s", base_url="", retry=RetryPolicy(0, 0, 0), timeout_s=1, sleep=sleep)
    shown = client.redact_url("https://user:hunter22@feeds.example/rss?apiKey=abc123&n=1")
    assert "hunter22" not in shown and "abc123" not in shown
    assert "n=1" in shown


# -- backoff and jitter ----------------------------------------------------------------------


def test_backoff_doubles_and_is_capped():
    policy = RetryPolicy(max_retries=10, backoff_base_s=0.5, backoff_max_s=8.0)
    ceilings = [policy.delay(n, None, Ceiling()) for n in range(1, 9)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert policy.delay(10_000, None, Ceiling()) == 8.0  # no overflow


def test_retry_after_is_a_floor_above_the_cap():
    policy = RetryPolicy(max_retries=3, backoff_base_s=0.5, backoff_max_s=8.0)
    assert policy.delay(1, 60.0, Ceiling()) == 60.0
    assert policy.delay(5, 0.1, Ceiling()) == 8.0  # a small Retry-After does not shorten backoff


def test_jitter_is_full_and_within_bounds():
    policy = RetryPolicy(max_retries=5, backoff_base_s=1.0, backoff_max_s=30.0)
    rng = random.Random(1)
    samples = [policy.delay(3, None, rng) for _ in range(2000)]
    assert all(0.0 <= s <= 4.0 for s in samples)
    assert min(samples) < 0.1 and max(samples) > 3.9  # the whole range [0, 4] is used
    assert len(set(samples)) > 1900


def test_retry_policy_validation_and_settings():
    with pytest.raises(ValueError, match="counts retries from 1"):
        RetryPolicy(1, 1.0, 1.0).delay(0, None, Ceiling())
    with pytest.raises(ValueError, match=">= 0"):
        RetryPolicy(-1, 1.0, 1.0)
    settings = Settings(http_max_retries=2, http_backoff_base_s=0.25, http_backoff_max_s=4.0)
    assert RetryPolicy.from_settings(settings.sources) == RetryPolicy(2, 0.25, 4.0)


def test_for_source_takes_timeout_and_retries_from_settings():
    settings = Settings(http_timeout_s=3.5, http_max_retries=1)
    with HttpClient.for_source(
        "s", settings.sources, base_url="http://h/", rate_per_s=None
    ) as client:
        assert client.timeout_s == 3.5
        assert client.retry.max_retries == 1
        assert client.base_url == "http://h"


# -- rate limit ------------------------------------------------------------------------------


def test_rate_limiter_spaces_calls():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(4):
        limiter.acquire()
        starts.append(clock.now - 100.0)
    assert starts == pytest.approx([0.0, 0.5, 1.0, 1.5])


def test_rate_limiter_burst_then_steady_rate():
    clock = FakeClock()
    limiter = RateLimiter(1.0, burst=3, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 1.0, 1.0])
    clock.now += 60.0  # a long pause refills the bucket, but only up to the burst
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 1.0])


def test_rate_limiter_validates():
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1.0, burst=0)


def test_client_waits_for_the_rate_limit(replay_server: ReplayServer, sleep: RecordingSleep):
    replay_server.script("/x", [Reply(json={})])
    client = make_client(replay_server, sleep, rate_per_s=1.0)
    for _ in range(3):
        client.get("/x")
    # The fake sleep does not move the clock, so each call waits one more slot.
    assert len(sleep.calls) == 2
    assert sleep.calls[0] == pytest.approx(1.0, abs=0.2)
    assert sleep.calls[1] == pytest.approx(2.0, abs=0.2)


# -- keys and endpoints ----------------------------------------------------------------------


def test_require_key_names_the_variable_in_one_line():
    with pytest.raises(ConfigurationError) as caught:
        require_key(None, "RWA_FRED_API_KEY")
    assert str(caught.value) == "RWA_FRED_API_KEY is not set: the fred source needs an API key"
    with pytest.raises(ConfigurationError, match=r"^RWA_NEWSAPI_KEY is not set: the newsapi"):
        require_key(SecretStr("   "), "newsapi_key")
    with pytest.raises(ConfigurationError, match="the CoinGecko Pro source"):
        require_key(None, "coingecko_api_key", source="CoinGecko Pro")
    assert require_key(SecretStr(" k-1 "), "fred_api_key") == "k-1"


def test_render_endpoint_fills_and_quotes_path_params():
    path, query = render_endpoint("/coins/{id}/ohlc", {"id": "a b/c", "days": 7})
    assert path == "/coins/a%20b%2Fc/ohlc"
    assert query == {"days": 7}
    assert render_endpoint("/stablecoins", {"includePrices": "true"}) == (
        "/stablecoins",
        {"includePrices": "true"},
    )
    with pytest.raises(ValueError, match="needs named params"):
        render_endpoint("/protocol/{slug}", {})


def test_retryable_statuses_exclude_client_errors():
    assert {429, 500, 502, 503, 504} <= RETRYABLE_STATUSES
    assert not {400, 401, 403, 404, 422, 501} & RETRYABLE_STATUSES
