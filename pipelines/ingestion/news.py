"""News about the reference assets: NewsAPI search, and RSS/Atom feeds. Dataset ``news``.

``newsapi`` (:class:`NewsApiSource`, https://newsapi.org/docs/endpoints/everything)
    ``GET {RWA_NEWSAPI_BASE_URL}/v2/everything?q=...&from=...&to=...&language=en
    &sortBy=publishedAt&pageSize=100&page=N`` answers ``{"status": "ok", "totalResults": n,
    "articles": [{"source": {"id", "name"}, "author", "title", "description", "url",
    "urlToImage", "publishedAt", "content"}, ...]}`` (the shape the simulated source imitates).
    ``q`` ORs the reference assets' names and tickers (:func:`news_queries`), split into as few
    queries as NewsAPI's 500-character limit allows; each query pages until ``totalResults``
    is covered or a page comes back empty, each page its own envelope. The key
    (``RWA_NEWSAPI_KEY``, required) travels in the ``X-Api-Key`` header, never in the params
    that bronze stores. Errors are ``{"status": "error", "code": "rateLimited", "message":
    ...}``: with an error status (429, 5xx) the client retries, with a 4xx it fails at once;
    an error body served with 200 is refused, retryable only for the codes in
    :data:`RETRYABLE_CODES`. The free Developer plan serves only the first 100 results of a
    query and articles of the past month; beyond that NewsAPI answers 426, a fatal FetchError
    carrying its message.

``news`` (:class:`RssFeedSource`)
    ``GET`` of every URL in ``RWA_NEWS_FEEDS``, RSS 2.0 (``<rss>``) or Atom (``<feed>``). The
    payload is the feed's XML text exactly as received; it is only checked to be a well-formed
    RSS/Atom document. Feeds list their latest items whatever the window, so every run lands
    the whole feed and silver keeps one row per item.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar
from xml.parsers import expat

import httpx

from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.http import HttpClient, HttpConnector, HttpResponse, Shape, require_key

logger = logging.getLogger("pipelines.ingestion.news")

EVERYTHING_ENDPOINT = "/v2/everything"

#: NewsAPI's limits: ``q`` up to 500 characters, ``pageSize`` up to 100.
MAX_QUERY_CHARS = 500
MAX_PAGE_SIZE = 100

#: NewsAPI error codes worth asking again later (the rest mean a bad key, plan or request).
RETRYABLE_CODES = frozenset({"rateLimited", "unexpectedError"})

#: NewsAPI documents a daily quota per plan, not a rate; one request per second is polite.
NEWSAPI_RATE_PER_S = 1.0
#: Feeds are mostly on different hosts, but several may share one: stay gentle with each.
FEED_RATE_PER_S = 1.0

#: Root elements of the feed documents accepted (RSS 2.0 and Atom 1.0), as expat names them
#: ("namespace local"). RSS 2.0's ``<rss>`` has no namespace; Atom's ``<feed>`` must have its own.
FEED_ROOTS = frozenset({"rss", "http://www.w3.org/2005/Atom feed"})

_FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
_TICKER = re.compile(r"[A-Za-z0-9]{2,10}")


class _NewsConnector(HttpConnector, ABC):
    """What both news sources share: one client, and how a 2xx answer is refused."""

    def __init__(self, client: HttpClient) -> None:
        super().__init__(client)
        self.client = client

    def client_for(self, request: SourceRequest) -> HttpClient:
        return self.client

    def refuse(self, response: HttpResponse, problem: str, *, retryable: bool) -> FetchError:
        """The error for a 2xx answer that is not what the source documents."""
        return FetchError(
            f"{self.name}: response from {response.url} refused: "
            f"{self.client.redact_text(problem)}",
            source=self.name,
            url=response.url,
            status=response.status,
            retryable=retryable,
        )


# -- NewsAPI ------------------------------------------------------------------------------------


def news_terms(assets: Sequence[Asset]) -> list[str]:
    """Search terms for ``assets``: each name (up to a parenthesis or comma, quoted when it is
    a phrase) and each plain ticker, without case-insensitive duplicates, in asset order.
    Machine symbols (``REALTOKEN-S-4680-...``) are left out: nobody writes them in prose."""
    terms: dict[str, str] = {}
    for asset in assets:
        name = re.split(r"[(,]", asset.name, maxsplit=1)[0].replace('"', "").strip()
        ticker = asset.symbol if _TICKER.fullmatch(asset.symbol) else ""
        for term in (name, ticker):
            if term:
                terms.setdefault(term.casefold(), term if term.isalnum() else f'"{term}"')
    return list(terms.values())


def news_queries(assets: Sequence[Asset], max_chars: int = MAX_QUERY_CHARS) -> list[str]:
    """:func:`news_terms` ORed into queries of at most ``max_chars``, one asset class at a time.

    Classes are never mixed in one query: results come newest first and the free plan serves
    only the first 100, so "Bitcoin" or "USDT" would crowd a tokenized fund's rare mentions out
    of a shared query. A term already searched for under an earlier class is not repeated.
    """
    by_class: dict[str, list[Asset]] = {}
    for asset in assets:
        by_class.setdefault(asset.asset_class, []).append(asset)
    seen: set[str] = set()
    queries: list[str] = []
    for members in by_class.values():
        terms = [t for t in news_terms(members) if t.casefold() not in seen]
        seen.update(t.casefold() for t in terms)
        queries += _or_queries(terms, max_chars)
    return queries


def _or_queries(terms: Sequence[str], max_chars: int) -> list[str]:
    """``terms`` packed greedily, in order, into ``" OR "`` queries of at most ``max_chars``."""
    queries: list[str] = []
    current = ""
    for term in terms:
        if len(term) > max_chars:
            logger.warning(
                "newsapi: search term longer than %d characters left out: %s", max_chars, term
            )
            continue
        joined = f"{current} OR {term}" if current else term
        if len(joined) <= max_chars:
            current = joined
        else:
            queries.append(current)
            current = term
    return [*queries, current] if current else queries


class _ArticlesShape(Shape):
    """NewsAPI's article list, with the two fields paging relies on type-checked."""

    __slots__ = ()

    def problem(self, payload: Any) -> str | None:
        problem = super().problem(payload)
        if problem is not None:
            return problem
        total = payload["totalResults"]
        if not isinstance(total, int) or isinstance(total, bool):
            return f"'totalResults' is not an integer: {total!r}"
        if not isinstance(payload["articles"], list):
            return "'articles' is not an array"
        return None


_ARTICLES = _ArticlesShape(dict, ("status", "totalResults", "articles"))


class NewsApiSource(_NewsConnector):
    """NewsAPI ``/v2/everything`` for the reference assets, one envelope per query and page."""

    name: ClassVar[str] = "newsapi"

    def __init__(
        self, client: HttpClient, queries: Sequence[str], *, page_size: int = MAX_PAGE_SIZE
    ) -> None:
        """``client`` must send the key header (see :meth:`from_settings`)."""
        super().__init__(client)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        too_long = [q for q in queries if len(q) > MAX_QUERY_CHARS]
        if too_long:
            raise ValueError(f"queries longer than {MAX_QUERY_CHARS} characters: {too_long}")
        self.queries = tuple(queries)
        self.page_size = page_size

    @classmethod
    def from_settings(cls, settings: Settings, assets: Sequence[Asset]) -> NewsApiSource:
        """Searches for the names and tickers of ``assets``."""
        key = require_key(settings.sources.newsapi_key, "RWA_NEWSAPI_KEY")
        client = HttpClient.for_source(
            cls.name,
            settings,
            base_url=settings.sources.newsapi_base_url,
            rate_per_s=NEWSAPI_RATE_PER_S,
            headers={"X-Api-Key": key},
        )
        return cls(client, news_queries(assets))

    def shape_for(self, request: SourceRequest) -> Shape | None:
        return _ARTICLES

    def decode(self, request: SourceRequest, response: HttpResponse) -> Any:
        payload = response.json()
        # NewsAPI sends its errors with an error status, which the client handles; one that
        # arrives with 200 is classified by its code instead.
        if isinstance(payload, dict) and payload.get("status") == "error":
            code = payload.get("code")
            raise self.refuse(
                response,
                f"NewsAPI error {code!r}: {payload.get('message')}",
                retryable=code in RETRYABLE_CODES,
            )
        return super().decode(request, response)

    # -- the steps ------------------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        # NewsAPI reads from/to as UTC, to the second, both inclusive; the window's end is not.
        last = window.end - dt.timedelta(seconds=1)
        return [
            SourceRequest(
                "news",
                EVERYTHING_ENDPOINT,
                {
                    "q": query,
                    "from": window.start.strftime("%Y-%m-%dT%H:%M:%S"),
                    "to": max(last, window.start).strftime("%Y-%m-%dT%H:%M:%S"),
                    "language": "en",
                    "sortBy": "publishedAt",
                    "pageSize": self.page_size,
                    "page": 1,
                },
            )
            for query in self.queries
        ]

    def next_page(self, request: SourceRequest, response: RawResponse) -> SourceRequest | None:
        page = int(request.params["page"])
        # An empty page ends the query even if totalResults promised more: the total can drift
        # between pages as articles are indexed or dropped, and must not make us page forever.
        covered = page * int(request.params["pageSize"])
        if not response.payload["articles"] or covered >= response.payload["totalResults"]:
            return None
        return SourceRequest(
            request.dataset, request.endpoint, {**request.params, "page": page + 1}
        )


# -- RSS / Atom ---------------------------------------------------------------------------------


class _RefusedXmlError(Exception):
    """Raised from inside the XML parser to stop at a construct that is not accepted."""


def feed_problem(text: str) -> str | None:
    """Why ``text`` is not a well-formed RSS or Atom document, or None when it is one.

    Parsed with the standard library's expat (defusedxml is not a dependency). A DOCTYPE is
    refused before its internal subset is read, so entity-expansion bombs ("billion laughs")
    and external entities never get expanded; real feeds do not declare one.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    roots: list[str] = []

    def refuse_doctype(name: str, *_: Any) -> None:
        raise _RefusedXmlError(f"it declares a DOCTYPE ({name}), which feeds are not allowed to")

    def start(name: str, attributes: Any) -> None:
        if not roots:
            roots.append(name)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    try:
        parser.Parse(text, True)
    except _RefusedXmlError as exc:
        return str(exc)
    except expat.ExpatError as exc:
        return (
            f"it is not well-formed XML ({expat.ErrorString(exc.code)} "
            f"at line {exc.lineno}, column {exc.offset})"
        )
    root = roots[0]  # a document that parsed has a root element
    if root not in FEED_ROOTS:
        return f"its root element is <{root.split(' ')[-1]}>, not RSS <rss> or Atom <feed>"
    return None


class RssFeedSource(_NewsConnector):
    """Every configured RSS/Atom feed, one envelope per feed with its XML text as payload."""

    name: ClassVar[str] = "news"

    def __init__(self, client: HttpClient, feeds: Sequence[str]) -> None:
        super().__init__(client)
        # Bronze stores the feed URL as the endpoint: credentials some private feeds carry in
        # the query string are redacted there, and the real URL is looked up when fetching.
        self._urls: dict[str, str] = {client.redact_url(url): url for url in feeds}

    @property
    def feeds(self) -> list[str]:
        """The feed URLs as stored in envelopes (credentials redacted)."""
        return list(self._urls)

    @classmethod
    def from_settings(cls, settings: Settings, assets: Sequence[Asset]) -> RssFeedSource:
        """The feeds of ``RWA_NEWS_FEEDS``; feeds are not per asset, so ``assets`` is unused."""
        if not settings.sources.news_feeds:
            raise ConfigurationError(
                "RWA_NEWS_FEEDS is not set: the news source needs RSS/Atom feed URLs, "
                "comma-separated"
            )
        for url in settings.sources.news_feeds:
            if not _is_http_url(url):
                raise ConfigurationError(f"RWA_NEWS_FEEDS: {url!r} is not an http(s) URL")
        client = HttpClient.for_source(
            cls.name,
            settings,
            base_url="",  # every feed is an absolute URL
            rate_per_s=FEED_RATE_PER_S,
            headers={"Accept": _FEED_ACCEPT},
        )
        return cls(client, settings.sources.news_feeds)

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        return [SourceRequest("news", feed) for feed in self._urls]

    def fetch(self, request: SourceRequest) -> RawResponse:
        # The endpoint is the (redacted) feed URL itself, not a template to fill.
        response = self.client.get(self._urls.get(request.endpoint, request.endpoint))
        return RawResponse(self.decode(request, response), response.fetched_at)

    def decode(self, request: SourceRequest, response: HttpResponse) -> Any:
        problem = feed_problem(response.text)
        if problem is not None:
            # Name the configured feed too: after a redirect the response URL is another one.
            moved = "" if response.url == request.endpoint else f" (feed {request.endpoint})"
            raise self.refuse(response, f"not an RSS/Atom feed{moved}: {problem}", retryable=False)
        return response.text


def _is_http_url(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)
