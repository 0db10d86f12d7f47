"""The NewsAPI connector against a local replaying server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import FetchWindow, SourceRequest
from pipelines.ingestion.newsapi.connector import (
    EVERYTHING_ENDPOINT,
    MAX_QUERY_CHARS,
    NewsApiSource,
    news_queries,
    news_terms,
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

WINDOW = FetchWindow(dt.datetime(2024, 7, 1, tzinfo=dt.UTC), dt.datetime(2024, 7, 4, tzinfo=dt.UTC))
KEY = "4f1d2c3b4a5968778695a4b3c2d1e0f9"
PATH = EVERYTHING_ENDPOINT
PAGE1 = "newsapi/everything_page1.json"
PAGE2 = "newsapi/everything_page2.json"


def settings(**overrides: object) -> Settings:
    # Explicit empty values: a developer's environment must not change what these tests see.
    values: dict[str, object] = {"newsapi_key": None, "news_feeds": [], **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


# == NewsAPI ===================================================================================

MakeNewsApi = Callable[..., NewsApiSource]


@pytest.fixture
def make_newsapi(replay_server: ReplayServer, sleep: RecordingSleep) -> MakeNewsApi:
    def make(queries: tuple[str, ...] = ("BUIDL OR BENJI",), **kwargs: object) -> NewsApiSource:
        client = replay_client(
            replay_server, "newsapi", sleep=sleep, timeout_s=0.3, headers={"X-Api-Key": KEY}
        )
        return NewsApiSource(client, queries, **kwargs)  # type: ignore[arg-type]

    return make


def first_request(source: NewsApiSource) -> SourceRequest:
    return source.build_requests(WINDOW)[0]


def test_terms_are_names_and_tickers_of_the_assets():
    terms = news_terms(assets("buidl", "benji", "dai", "realt-4680-buckingham"))
    assert terms == [
        '"BlackRock USD Institutional Digital Liquidity Fund"',
        "BUIDL",
        # Up to the parenthesis: "(FOBXX)" would not be in a headline's wording.
        '"Franklin OnChain U.S. Government Money Fund"',
        "BENJI",
        # The machine symbol REALTOKEN-S-4680-... is left out; the address is kept.
        '"RealToken S 4680 Buckingham Ave"',
        "Dai",  # name "Dai" and ticker "DAI" are one term
    ]


def test_queries_stay_under_the_limit_and_never_mix_asset_classes():
    reference = load_assets()
    queries = news_queries(reference)
    assert all(0 < len(q) <= MAX_QUERY_CHARS for q in queries)
    # Every term is searched for exactly once.
    searched = [term for q in queries for term in q.split(" OR ")]
    assert sorted(searched) == sorted(news_terms(reference))
    bitcoin = next(q for q in queries if "Bitcoin" in q)
    assert "BUIDL" not in bitcoin and "USDT" not in bitcoin
    # A tight limit splits a class over several queries, each still within the limit.
    tight = news_queries(assets("buidl", "benji"), max_chars=64)
    assert tight == [
        '"BlackRock USD Institutional Digital Liquidity Fund" OR BUIDL',
        '"Franklin OnChain U.S. Government Money Fund" OR BENJI',
    ]
    # A term longer than the limit cannot be searched for; it is left out, not cut.
    assert news_queries(assets("buidl"), max_chars=10) == ["BUIDL"]
    assert news_queries([]) == []


def test_requests_cover_the_window_per_query(make_newsapi: MakeNewsApi):
    requests = make_newsapi(("BUIDL", "OUSG")).build_requests(WINDOW)
    assert [r.params["q"] for r in requests] == ["BUIDL", "OUSG"]
    assert requests[0] == SourceRequest(
        "news",
        PATH,
        {
            "q": "BUIDL",
            "from": "2024-07-01T00:00:00",
            "to": "2024-07-03T23:59:59",  # NewsAPI's ``to`` is inclusive
            "language": "en",
            "sortBy": "publishedAt",
            "pageSize": 100,
            "page": 1,
        },
    )


def test_queries_and_page_size_are_checked(make_newsapi: MakeNewsApi):
    with pytest.raises(ValueError, match="longer than 500"):
        make_newsapi(("x" * 501,))
    with pytest.raises(ValueError, match="page_size"):
        make_newsapi(page_size=101)


def test_collect_pages_until_total_results_and_keeps_the_key_out_of_bronze(
    replay_server: ReplayServer, make_newsapi: MakeNewsApi
):
    replay_server.script(PATH, [Reply.fixture(PAGE1)])
    replay_server.script(PATH, [Reply.fixture(PAGE2)], query={"page": "2"})
    before = dt.datetime.now(dt.UTC)

    envelopes = list(make_newsapi(page_size=2).collect(WINDOW))

    assert [e.params["page"] for e in envelopes] == [1, 2]  # 3 results, 2 a page
    assert [e.payload for e in envelopes] == [fixture_json(PAGE1), fixture_json(PAGE2)]
    for envelope in envelopes:
        assert (envelope.source, envelope.dataset, envelope.endpoint) == ("newsapi", "news", PATH)
        assert envelope.fetched_at >= before
        assert KEY not in envelope.to_json_line()
    sent = replay_server.requests_to(PATH)
    assert [r.headers["x-api-key"] for r in sent] == [KEY, KEY]
    assert all("apiKey" not in r.query for r in sent)
    assert sent[0].query["q"] == "BUIDL OR BENJI"


def test_an_empty_page_ends_the_query_even_if_total_results_promised_more(
    replay_server: ReplayServer, make_newsapi: MakeNewsApi
):
    replay_server.script(PATH, [Reply(json=fixture_json(PAGE1) | {"totalResults": 500})])
    replay_server.script(
        PATH,
        [Reply(json={"status": "ok", "totalResults": 500, "articles": []})],
        query={"page": "2"},
    )
    envelopes = list(make_newsapi(page_size=2).collect(WINDOW))
    assert [e.params["page"] for e in envelopes] == [1, 2]
    assert envelopes[-1].payload["articles"] == []


def test_no_results_is_one_envelope(replay_server: ReplayServer, make_newsapi: MakeNewsApi):
    replay_server.script(PATH, [Reply.fixture("newsapi/everything_empty.json")])
    [envelope] = list(make_newsapi().collect(WINDOW))
    assert envelope.payload == {"status": "ok", "totalResults": 0, "articles": []}


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param(
            [Reply.fixture("newsapi/error_rate_limited.json", 429, headers={"Retry-After": "3"})],
            id="429-rateLimited-retry-after",
        ),
        pytest.param([Reply.fixture("newsapi/error_unexpected.json", 500)], id="500"),
        pytest.param([Reply(delay_s=1.0, json={})], id="timeout"),
        pytest.param([Reply(body=b'{"status": "ok", "tot', truncated=True)], id="cut-short"),
    ],
)
def test_transient_failures_are_retried(
    replay_server: ReplayServer,
    make_newsapi: MakeNewsApi,
    sleep: RecordingSleep,
    failures: list[Reply],
):
    replay_server.script(PATH, [*failures, Reply.fixture(PAGE1)])
    source = make_newsapi()
    assert source.fetch(first_request(source)).payload == fixture_json(PAGE1)
    assert len(replay_server.requests_to(PATH)) == len(failures) + 1
    assert len(sleep.calls) == len(failures)
    if "Retry-After" in failures[0].headers:
        assert sleep.calls[0] >= 3.0


@pytest.mark.parametrize(
    ("reply", "retryable", "message"),
    [
        (Reply.fixture("newsapi/error_rate_limited.json", 429), True, "You have been rate limited"),
        (Reply(body=b'{"status": "ok", "tot', truncated=True), True, "RemoteProtocolError"),
        (
            Reply.fixture("newsapi/error_api_key_invalid.json", 401),
            False,
            "HTTP 401 Unauthorized: Your API key is invalid",
        ),
        (
            Reply.fixture("newsapi/error_maximum_results_reached.json", 426),
            False,
            "Developer accounts are limited to a max of 100 results",
        ),
        # Error bodies served with 200 are classified by their code.
        (
            Reply.fixture("newsapi/error_rate_limited.json"),
            True,
            "NewsAPI error 'rateLimited': You have been rate limited",
        ),
        (
            Reply.fixture("newsapi/error_unexpected.json"),
            True,
            "NewsAPI error 'unexpectedError'",
        ),
        (
            Reply.fixture("newsapi/error_api_key_invalid.json"),
            False,
            "NewsAPI error 'apiKeyInvalid': Your API key is invalid",
        ),
        (Reply(body=b'{"status": "ok", "totalResults": 3, "articles": [{'), False, "not valid"),
        (Reply(json=[]), False, "expected a JSON object, got an array"),
        (Reply(json={"status": "ok"}), False, "expected keys ['totalResults', 'articles']"),
        (
            Reply(json={"status": "ok", "totalResults": None, "articles": []}),
            False,
            "'totalResults' is not an integer",
        ),
        (
            Reply(json={"status": "ok", "totalResults": 1, "articles": "none"}),
            False,
            "'articles' is not an array",
        ),
    ],
)
def test_newsapi_failures_are_clear_fetch_errors_without_the_key(
    replay_server: ReplayServer,
    make_newsapi: MakeNewsApi,
    reply: Reply,
    retryable: bool,
    message: str,
):
    replay_server.script(PATH, [reply])
    source = make_newsapi()
    with pytest.raises(FetchError, match="newsapi") as caught:
        source.fetch(first_request(source))
    error = caught.value
    assert (error.source, error.retryable) == ("newsapi", retryable)
    assert message in str(error)
    assert KEY not in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize("key", [None, "", " "])
def test_newsapi_needs_a_key(key: str | None):
    with pytest.raises(ConfigurationError) as caught:
        NewsApiSource.from_settings(settings(newsapi_key=key).sources, load_assets())
    assert str(caught.value).startswith("RWA_NEWSAPI_KEY is not set")
    assert "\n" not in str(caught.value)


def test_newsapi_registered_and_built_from_settings(replay_server: ReplayServer):
    assert "newsapi" in known_sources()
    replay_server.script(PATH, [Reply.fixture(PAGE1)])
    configured = settings(newsapi_key=KEY, newsapi_base_url=replay_server.url)
    source = get_connector("newsapi", configured.sources, configured.simulation, load_assets())

    assert isinstance(source, NewsApiSource)
    assert source.queries == tuple(news_queries(load_assets()))
    with source:
        assert source.fetch(first_request(source)).payload == fixture_json(PAGE1)
    assert replay_server.requests_to(PATH)[0].headers["x-api-key"] == KEY
