"""The CoinGecko connector against a local server replaying CoinGecko's documented answers."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.settings import Settings, SimulationSettings
from pipelines.ingestion.base import FetchWindow, SourceRequest
from pipelines.ingestion.coingecko.connector import (
    DEMO_RATE_PER_S,
    MARKET_CHART_ENDPOINT,
    MARKETS_ENDPOINT,
    OHLC_ENDPOINT,
    PRO_RATE_PER_S,
    PUBLIC_RATE_PER_S,
    CoinGeckoSource,
    coingecko_client,
)
from pipelines.ingestion.registry import get_connector, known_sources
from pipelines.reference import load_assets
from tests.fixtures.http_replay import (
    RecordingSleep,
    ReplayServer,
    Reply,
    fixture_json,
    replay_client,
)
from tests.pipelines.ingestion.support import assets

NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)
WEEK = FetchWindow(dt.datetime(2024, 3, 1, tzinfo=dt.UTC), dt.datetime(2024, 3, 8, tzinfo=dt.UTC))
CHART = "coingecko/market_chart_range.json"
OHLC = "coingecko/ohlc.json"


def settings(**overrides: object) -> Settings:
    # Explicit None keys: a developer's environment must not change what these tests see.
    values: dict[str, object] = {"coingecko_api_key": None, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture
def make_source(
    replay_server: ReplayServer, sleep: RecordingSleep
) -> Callable[..., CoinGeckoSource]:
    def make(*asset_ids: str, **kwargs: object) -> CoinGeckoSource:
        client = replay_client(replay_server, "coingecko", sleep=sleep, timeout_s=0.3)
        return CoinGeckoSource(
            assets(*asset_ids),
            client,
            now=lambda: NOW,
            **kwargs,  # type: ignore[arg-type]
        )

    return make


def chart_path(coin: str) -> str:
    return f"/coins/{coin}/market_chart/range"


def ohlc_path(coin: str) -> str:
    return f"/coins/{coin}/ohlc"


# -- requests ----------------------------------------------------------------------------------


def test_requests_cover_the_window_per_listed_asset(make_source: Callable[..., CoinGeckoSource]):
    # realt-… has no coingecko_id: nothing to ask CoinGecko about it.
    source = make_source("btc", "usdc", "realt-4680-buckingham")
    assert source.coin_ids == ("usd-coin", "bitcoin")  # reference file order
    start, end = int(WEEK.start.timestamp()), int(WEEK.end.timestamp())
    assert source.build_requests(WEEK) == [
        SourceRequest(
            "prices",
            MARKET_CHART_ENDPOINT,
            {"id": "usd-coin", "vs_currency": "usd", "from": start, "to": end},
        ),
        # 9.5 days back from NOW to the window's start: the next allowed value is 14.
        SourceRequest(
            "prices", OHLC_ENDPOINT, {"id": "usd-coin", "vs_currency": "usd", "days": 14}
        ),
        SourceRequest(
            "prices",
            MARKET_CHART_ENDPOINT,
            {"id": "bitcoin", "vs_currency": "usd", "from": start, "to": end},
        ),
        SourceRequest("prices", OHLC_ENDPOINT, {"id": "bitcoin", "vs_currency": "usd", "days": 14}),
    ]


def test_long_windows_are_split_into_hourly_spans(make_source: Callable[..., CoinGeckoSource]):
    window = FetchWindow(NOW - dt.timedelta(days=200), NOW)
    requests = make_source("btc").build_requests(window)
    charts = [r.params for r in requests if r.endpoint == MARKET_CHART_ENDPOINT]
    assert [(c["to"] - c["from"]) / 86400 for c in charts] == [90, 90, 20]
    assert charts[0]["from"] == int(window.start.timestamp())
    assert charts[-1]["to"] == int(window.end.timestamp())
    assert all(a["to"] == b["from"] for a, b in itertools.pairwise(charts))
    ohlc = [r.params["days"] for r in requests if r.endpoint == OHLC_ENDPOINT]
    assert ohlc == [365]


@pytest.mark.parametrize(
    ("days_back", "span_days", "expected"),
    [
        (1, 1, 1),
        (3, 1, 7),
        (30, 2, 30),
        (31, 1, 90),
        (364, 1, 365),
        (500, 200, 365),
        (400, 20, None),
    ],
)
def test_ohlc_days(
    make_source: Callable[..., CoinGeckoSource],
    days_back: int,
    span_days: int,
    expected: int | None,
):
    start = NOW - dt.timedelta(days=days_back)
    window = FetchWindow(start, start + dt.timedelta(days=span_days))
    requests = make_source("btc").build_requests(window)
    assert [r.params["days"] for r in requests if r.endpoint == OHLC_ENDPOINT] == (
        [] if expected is None else [expected]
    )


def test_markets_snapshot_only_when_the_window_reaches_now(
    make_source: Callable[..., CoinGeckoSource],
):
    source = make_source("btc", "usdc")
    today = FetchWindow(NOW - dt.timedelta(hours=6), NOW)
    first = source.build_requests(today)[0]
    assert first == SourceRequest(
        "prices",
        MARKETS_ENDPOINT,
        {
            "vs_currency": "usd",
            "ids": "usd-coin,bitcoin",
            "order": "market_cap_desc",
            "per_page": 250,
            "page": 1,
            "sparkline": "false",
        },
    )
    assert all(r.endpoint != MARKETS_ENDPOINT for r in source.build_requests(WEEK))
    assert make_source().build_requests(today) == []  # no listed assets, nothing to ask


# -- success ---------------------------------------------------------------------------------


def test_collect_lands_the_payloads_untouched(
    replay_server: ReplayServer, make_source: Callable[..., CoinGeckoSource]
):
    for coin in ("usd-coin", "bitcoin"):
        replay_server.script(chart_path(coin), [Reply.fixture(CHART)])
        replay_server.script(ohlc_path(coin), [Reply.fixture(OHLC)])
    before = dt.datetime.now(dt.UTC)
    envelopes = list(make_source("btc", "usdc").collect(WEEK))

    assert [(e.endpoint, e.params["id"]) for e in envelopes] == [
        (MARKET_CHART_ENDPOINT, "usd-coin"),
        (OHLC_ENDPOINT, "usd-coin"),
        (MARKET_CHART_ENDPOINT, "bitcoin"),
        (OHLC_ENDPOINT, "bitcoin"),
    ]
    for envelope in envelopes:
        assert envelope.source == "coingecko"
        assert envelope.dataset == "prices"
        assert envelope.fetched_at >= before
        expected = CHART if envelope.endpoint == MARKET_CHART_ENDPOINT else OHLC
        assert envelope.payload == fixture_json(expected)
    chart = envelopes[0]
    assert chart.params == {
        "id": "usd-coin",
        "vs_currency": "usd",
        "from": int(WEEK.start.timestamp()),
        "to": int(WEEK.end.timestamp()),
    }
    assert len({e.ingest_id for e in envelopes}) == 4
    sent = replay_server.requests_to(chart_path("usd-coin"))[0]
    assert sent.query == {"vs_currency": "usd", "from": "1709251200", "to": "1709856000"}
    assert replay_server.requests_to(ohlc_path("bitcoin"))[0].query == {
        "vs_currency": "usd",
        "days": "14",
    }


def test_empty_results_are_landed_as_empty(
    replay_server: ReplayServer, make_source: Callable[..., CoinGeckoSource]
):
    replay_server.script(
        chart_path("bitcoin"), [Reply.fixture("coingecko/market_chart_range_empty.json")]
    )
    replay_server.script(ohlc_path("bitcoin"), [Reply(json=[])])
    chart, ohlc = make_source("btc").collect(WEEK)
    assert chart.payload == {"prices": [], "market_caps": [], "total_volumes": []}
    assert ohlc.payload == []


def test_markets_are_paginated(
    replay_server: ReplayServer, make_source: Callable[..., CoinGeckoSource]
):
    coins = fixture_json("coingecko/coins_markets.json")
    replay_server.script(MARKETS_ENDPOINT, [Reply(json=[coins[1]])], query={"page": "1"})
    replay_server.script(MARKETS_ENDPOINT, [Reply(json=[coins[0]])], query={"page": "2"})
    source = make_source("btc", "usdc", markets_page_size=1)
    request = source.build_requests(FetchWindow(NOW - dt.timedelta(hours=1), NOW))[0]
    pages = []
    page: SourceRequest | None = request
    while page is not None:
        response = source.fetch(page)
        pages.append((page.params["page"], response.payload))
        page = source.next_page(page, response)
    assert pages == [(1, [coins[1]]), (2, [coins[0]])]  # two ids, one per page: no third call
    assert len(replay_server.requests_to(MARKETS_ENDPOINT)) == 2


def test_a_short_markets_page_is_the_last(
    replay_server: ReplayServer, make_source: Callable[..., CoinGeckoSource]
):
    replay_server.script(MARKETS_ENDPOINT, [Reply.fixture("coingecko/coins_markets.json")])
    source = make_source("btc", "usdc", "eth", markets_page_size=3)
    request = source.build_requests(FetchWindow(NOW - dt.timedelta(hours=1), NOW))[0]
    response = source.fetch(request)
    assert len(response.payload) == 2
    assert source.next_page(request, response) is None


# -- failures through the connector ----------------------------------------------------------


def one_chart(source: CoinGeckoSource) -> SourceRequest:
    return source.build_requests(WEEK)[0]


def test_429_with_retry_after_is_waited_out(
    replay_server: ReplayServer, make_source: Callable[..., CoinGeckoSource], sleep: RecordingSleep
):
    replay_server.script(
        chart_path("bitcoin"),
        [
            Reply.fixture("coingecko/error_rate_limit.json", 429, headers={"Retry-After": "30"}),
            Reply.fixture(CHART),
        ],
    )
    source = make_source("btc")
    assert source.fetch(one_chart(source)).payload == fixture_json(CHART)
    assert sleep.calls[0] >= 30.0


def test_500_then_200_recovers(
    replay_server: ReplayServer, make_source: Callable[..., CoinGeckoSource]
):
    replay_server.script(chart_path("bitcoin"), [Reply(500), Reply(502), Reply.fixture(CHART)])
    source = make_source("btc")
    assert source.fetch(one_chart(source)).payload == fixture_json(CHART)


@pytest.mark.parametrize(
    ("reply", "retryable", "message"),
    [
        (Reply(delay_s=1.0, json={}), True, "failed after 3 attempts: no answer within 0.3 s"),
        (Reply(body=b'{"prices": [[17040', truncated=True), True, "RemoteProtocolError"),
        (Reply(503), True, "failed after 3 attempts: HTTP 503"),
        (Reply.fixture("coingecko/error_coin_not_found.json", 404), False, "coin not found"),
        (Reply.fixture("coingecko/error_api_key_missing.json", 401), False, "API Key Missing"),
        (Reply(body=b'{"prices": [[17040'), False, "is not valid JSON"),
        (
            Reply(json=[[1, 2]]),
            False,
            "not the documented /coins/{id}/market_chart/range shape: expected a JSON object",
        ),
        (
            Reply(json={"prices": []}),
            False,
            "expected keys ['market_caps', 'total_volumes'] are missing",
        ),
    ],
)
def test_failures_are_classified(
    replay_server: ReplayServer,
    make_source: Callable[..., CoinGeckoSource],
    reply: Reply,
    retryable: bool,
    message: str,
):
    replay_server.script(chart_path("bitcoin"), [reply])
    with pytest.raises(FetchError, match=r"^coingecko: ") as caught:
        list(make_source("btc").collect(WEEK))
    assert caught.value.retryable is retryable
    assert message in str(caught.value)
    assert f"{replay_server.url}/coins/bitcoin/market_chart/range" in str(caught.value)
    assert len(replay_server.requests) == (3 if retryable else 1)


def test_an_error_object_served_as_200_is_refused(
    replay_server: ReplayServer, make_source: Callable[..., CoinGeckoSource]
):
    replay_server.script(ohlc_path("bitcoin"), [Reply.fixture("coingecko/error_rate_limit.json")])
    source = make_source("btc")
    request = source.build_requests(WEEK)[1]
    with pytest.raises(FetchError, match="expected a JSON array, got an object") as caught:
        source.fetch(request)
    assert caught.value.retryable is False


# -- settings, keys and registry -------------------------------------------------------------


def old_window() -> FetchWindow:
    """Older than a year: one market chart request per coin, no OHLC (and no real waiting)."""
    return FetchWindow(
        dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2020, 1, 2, tzinfo=dt.UTC)
    )


def test_from_settings_works_without_a_key(replay_server: ReplayServer):
    replay_server.script("/api/v3" + chart_path("bitcoin"), [Reply.fixture(CHART)])
    config = settings(coingecko_base_url=replay_server.url + "/api/v3")
    with CoinGeckoSource.from_settings(config.sources, assets("btc")) as source:
        assert source.client.rate_per_s == PUBLIC_RATE_PER_S
        (envelope,) = source.collect(old_window())
    assert envelope.payload == fixture_json(CHART)
    (request,) = replay_server.requests
    assert request.path == "/api/v3/coins/bitcoin/market_chart/range"
    assert not any("api-key" in name for name in request.headers)


def test_the_key_is_sent_as_a_header_and_never_landed(replay_server: ReplayServer):
    replay_server.script(chart_path("bitcoin"), [Reply.fixture(CHART)])
    config = settings(
        coingecko_base_url=replay_server.url, coingecko_api_key=SecretStr("CG-demo-key-123")
    )
    with CoinGeckoSource.from_settings(config.sources, assets("btc")) as source:
        assert source.client.rate_per_s == DEMO_RATE_PER_S
        (envelope,) = source.collect(old_window())
    assert replay_server.requests[0].headers["x-cg-demo-api-key"] == "CG-demo-key-123"
    assert "CG-demo-key-123" not in envelope.to_json_line()


def test_the_key_is_redacted_from_errors(replay_server: ReplayServer):
    replay_server.script(chart_path("bitcoin"), [Reply(400, json={"error": "bad CG-demo-key-123"})])
    config = settings(
        coingecko_base_url=replay_server.url, coingecko_api_key=SecretStr("CG-demo-key-123")
    )
    with (
        CoinGeckoSource.from_settings(config.sources, assets("btc")) as source,
        pytest.raises(FetchError) as caught,
    ):
        list(source.collect(old_window()))
    assert "CG-demo-key-123" not in str(caught.value)
    assert "bad REDACTED" in str(caught.value)


def test_the_pro_api_root_takes_the_pro_header_and_needs_a_key():
    pro = "https://pro-api.coingecko.com/api/v3"
    with coingecko_client(
        settings(coingecko_base_url=pro, coingecko_api_key="CG-pro").sources
    ) as client:
        assert client._client.headers["x-cg-pro-api-key"] == "CG-pro"
        assert "x-cg-demo-api-key" not in client._client.headers
        assert client.rate_per_s == PRO_RATE_PER_S
    with pytest.raises(ConfigurationError) as caught:
        coingecko_client(settings(coingecko_base_url=pro).sources)
    assert str(caught.value) == (
        "RWA_COINGECKO_API_KEY is not set: the CoinGecko Pro source needs an API key"
    )


def test_from_settings_takes_http_settings():
    config = settings(http_timeout_s=7.0, http_max_retries=1, http_backoff_max_s=3.0)
    with CoinGeckoSource.from_settings(config.sources, load_assets()) as source:
        assert source.client.timeout_s == 7.0
        assert source.client.retry.max_retries == 1
        assert source.client.retry.backoff_max_s == 3.0
        assert source.client.base_url == "https://api.coingecko.com/api/v3"
        assert "bitcoin" in source.coin_ids and "tether" in source.coin_ids


def test_the_registry_builds_it(replay_server: ReplayServer):
    assert {"coingecko", "defillama", "simulated"} <= set(known_sources())
    source = get_connector(
        "coingecko",
        settings(coingecko_base_url=replay_server.url).sources,
        SimulationSettings(),
        assets("btc", "eth"),
    )
    assert isinstance(source, CoinGeckoSource)
    assert source.coin_ids == ("bitcoin", "ethereum")
    source.close()
