"""The RSS/Atom feed connector (source ``news``) against a local replaying server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import FetchWindow
from pipelines.ingestion.http import REDACTED
from pipelines.ingestion.news.connector import RssFeedSource, feed_problem
from pipelines.ingestion.registry import get_connector, known_sources
from pipelines.reference import load_assets
from tests.fixtures.http_replay import (
    RecordingSleep,
    ReplayServer,
    Reply,
    fixture_bytes,
    replay_client,
)

WINDOW = FetchWindow(dt.datetime(2024, 7, 1, tzinfo=dt.UTC), dt.datetime(2024, 7, 4, tzinfo=dt.UTC))
RSS = "rss/rss2.xml"
ATOM = "rss/atom.xml"


def settings(**overrides: object) -> Settings:
    # Explicit empty values: a developer's environment must not change what these tests see.
    values: dict[str, object] = {"newsapi_key": None, "news_feeds": [], **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


# == RSS / Atom ================================================================================

MakeFeeds = Callable[..., RssFeedSource]


@pytest.fixture
def make_feeds(replay_server: ReplayServer, sleep: RecordingSleep) -> MakeFeeds:
    def make(*paths: str) -> RssFeedSource:
        client = replay_client(replay_server, "news", sleep=sleep, timeout_s=0.3)
        return RssFeedSource(client, [replay_server.url + path for path in paths])

    return make


def test_feed_problem_accepts_rss_and_atom_only():
    assert feed_problem(fixture_bytes(RSS).decode()) is None
    assert feed_problem(fixture_bytes(ATOM).decode()) is None
    assert feed_problem(fixture_bytes("rss/not_a_feed.xml").decode()) == (
        "its root element is <html>, not RSS <rss> or Atom <feed>"
    )
    # RSS 1.0 (RDF) and an Atom-like root outside the Atom namespace are not accepted.
    rdf = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    assert "<RDF>" in (feed_problem(rdf) or "")
    assert "<feed>" in (feed_problem("<feed/>") or "")


def test_feed_problem_refuses_doctypes_before_expanding_entities():
    bomb = fixture_bytes("rss/entity_expansion.xml").decode()
    assert feed_problem(bomb) == "it declares a DOCTYPE (rss), which feeds are not allowed to"
    # Even a harmless-looking external DTD is refused: it is never needed by a feed.
    external = '<!DOCTYPE rss SYSTEM "http://example.com/rss.dtd"><rss version="0.91"/>'
    assert feed_problem(external) is not None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not well-formed XML (no element found at line 1, column 0)"),
        (
            '{"status": "ok"}',
            "not well-formed XML (not well-formed (invalid token) at line 1, column 0)",
        ),
        ("<rss><channel></rss>", "not well-formed XML (mismatched tag"),
    ],
)
def test_feed_problem_names_what_is_wrong(text: str, problem: str):
    assert problem in (feed_problem(text) or "")


def test_collect_lands_each_feed_as_returned(replay_server: ReplayServer, make_feeds: MakeFeeds):
    replay_server.script("/rwa/feed.xml", [Reply.fixture(RSS)])
    replay_server.script("/atom.xml", [Reply.fixture(ATOM)])
    before = dt.datetime.now(dt.UTC)

    envelopes = list(make_feeds("/rwa/feed.xml", "/atom.xml").collect(WINDOW))

    assert [e.endpoint for e in envelopes] == [
        f"{replay_server.url}/rwa/feed.xml",
        f"{replay_server.url}/atom.xml",
    ]
    assert [e.payload for e in envelopes] == [
        fixture_bytes(RSS).decode(),
        fixture_bytes(ATOM).decode(),
    ]
    for envelope in envelopes:
        assert (envelope.source, envelope.dataset, envelope.params) == ("news", "news", {})
        assert envelope.fetched_at >= before


def test_credentials_in_a_feed_url_are_sent_but_not_landed(
    replay_server: ReplayServer, make_feeds: MakeFeeds
):
    replay_server.script("/private.xml", [Reply.fixture(RSS)])
    [envelope] = list(make_feeds("/private.xml?token=s3cr3t-feed-token&lang=en").collect(WINDOW))

    assert envelope.endpoint == f"{replay_server.url}/private.xml?token={REDACTED}&lang=en"
    assert "s3cr3t-feed-token" not in envelope.to_json_line()
    assert replay_server.requests_to("/private.xml")[0].query["token"] == "s3cr3t-feed-token"


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param([Reply(status=429, headers={"Retry-After": "2"})], id="429-retry-after"),
        pytest.param([Reply(status=503), Reply(status=500)], id="5xx"),
        pytest.param([Reply(delay_s=1.0, body="<rss/>")], id="timeout"),
        pytest.param([Reply(body=b"<rss><chan", truncated=True)], id="cut-short"),
    ],
)
def test_feed_transient_failures_are_retried(
    replay_server: ReplayServer,
    make_feeds: MakeFeeds,
    sleep: RecordingSleep,
    failures: list[Reply],
):
    replay_server.script("/feed.xml", [*failures, Reply.fixture(RSS)])
    [envelope] = list(make_feeds("/feed.xml").collect(WINDOW))
    assert envelope.payload == fixture_bytes(RSS).decode()
    assert len(sleep.calls) == len(failures)
    if "Retry-After" in failures[0].headers:
        assert sleep.calls[0] >= 2.0


@pytest.mark.parametrize(
    ("reply", "retryable", "message"),
    [
        (Reply.fixture("rss/rss2_cut_short.xml"), False, "not well-formed XML"),
        (Reply.fixture("rss/not_a_feed.xml"), False, "its root element is <html>"),
        (Reply.fixture("rss/entity_expansion.xml"), False, "it declares a DOCTYPE"),
        (Reply(body=b""), False, "not well-formed XML (no element found"),
        (Reply(status=404, body="<html>gone</html>"), False, "HTTP 404"),
        (Reply(status=503), True, "failed after 3 attempts"),
    ],
)
def test_feed_failures_are_fetch_errors_naming_the_feed(
    replay_server: ReplayServer,
    make_feeds: MakeFeeds,
    reply: Reply,
    retryable: bool,
    message: str,
):
    replay_server.script("/feed.xml", [reply])
    with pytest.raises(FetchError) as caught:
        list(make_feeds("/feed.xml").collect(WINDOW))
    error = caught.value
    assert (error.source, error.retryable) == ("news", retryable)
    assert f"{replay_server.url}/feed.xml" in str(error)
    assert message in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ([], "RWA_NEWS_FEEDS is not set"),
        (["ftp://example.com/feed.xml"], "RWA_NEWS_FEEDS: 'ftp://example.com/feed.xml' is not"),
        (["feed.xml"], "RWA_NEWS_FEEDS: 'feed.xml' is not an http(s) URL"),
    ],
)
def test_feeds_must_be_configured(feeds: list[str], message: str):
    with pytest.raises(ConfigurationError) as caught:
        RssFeedSource.from_settings(settings(news_feeds=feeds).sources, load_assets())
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_news_registered_and_built_from_settings(replay_server: ReplayServer):
    assert "news" in known_sources()
    replay_server.script("/feed.xml", [Reply.fixture(ATOM)])
    # Comma-separated, as the environment variable gives them.
    configured = settings(news_feeds=f"{replay_server.url}/feed.xml, ")
    source = get_connector("news", configured.sources, configured.simulation, load_assets())

    assert isinstance(source, RssFeedSource)
    assert source.feeds == [f"{replay_server.url}/feed.xml"]
    with source:
        [envelope] = list(source.collect(WINDOW))
    assert envelope.payload == fixture_bytes(ATOM).decode()
    # Feeds are asked for as feeds (some servers answer HTML to a browser-like Accept).
    assert "application/atom+xml" in replay_server.requests_to("/feed.xml")[0].headers["accept"]


def test_a_redirected_feed_is_followed_and_named_in_errors(
    replay_server: ReplayServer, make_feeds: MakeFeeds
):
    replay_server.script("/old.xml", [Reply(status=301, headers={"Location": "/new.xml"})])
    replay_server.script("/new.xml", [Reply.fixture("rss/not_a_feed.xml")])
    with pytest.raises(FetchError) as caught:
        list(make_feeds("/old.xml").collect(WINDOW))
    message = str(caught.value)
    assert f"response from {replay_server.url}/new.xml refused" in message
    assert f"(feed {replay_server.url}/old.xml)" in message

    replay_server.script("/new.xml", [Reply.fixture(RSS)])
    [envelope] = list(make_feeds("/old.xml").collect(WINDOW))
    assert envelope.endpoint == f"{replay_server.url}/old.xml"  # the feed as configured
    assert envelope.payload == fixture_bytes(RSS).decode()
