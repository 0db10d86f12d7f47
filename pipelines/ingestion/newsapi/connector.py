"""NewsAPI (source ``newsapi``): search for news about the reference assets. Dataset ``news``.

Endpoint (https://newsapi.org/docs/endpoints/everything):

``GET {RWA_NEWSAPI_BASE_URL}/v2/everything?q=...&from=...&to=...&language=en
&sortBy=publishedAt&pageSize=100&page=N``
    answers ``{"status": "ok", "totalResults": n, "articles": [{"source": {"id", "name"},
    "author", "title", "description", "url", "urlToImage", "publishedAt", "content"}, ...]}``
    (the shape the simulated source imitates). ``q`` ORs the reference assets' names and tickers
    (:func:`news_queries`), split into as few queries as NewsAPI's 500-character limit allows;
    each query pages until ``totalResults`` is covered or a page comes back empty, each page its
    own envelope. The key (``RWA_NEWSAPI_KEY``, required) travels in the ``X-Api-Key`` header,
    never in the params that bronze stores. Errors are ``{"status": "error", "code":
    "rateLimited", "message": ...}``: with an error status (429, 5xx) the client retries, with a
    4xx it fails at once; an error body served with 200 is refused, retryable only for the codes
    in :data:`RETRYABLE_CODES`. The free Developer plan serves only the first 100 results of a
    query and articles of the past month; beyond that NewsAPI answers 426, a fatal FetchError
    carrying its message.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from pipelines.contracts.reference import Asset
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.http import (
    HttpClient,
    HttpResponse,
    Shape,
    SingleClientConnector,
    require_key,
)

logger = logging.getLogger("pipelines.ingestion.newsapi")

EVERYTHING_ENDPOINT = "/v2/everything"

#: NewsAPI's limits: ``q`` up to 500 characters, ``pageSize`` up to 100.
MAX_QUERY_CHARS = 500
MAX_PAGE_SIZE = 100

#: NewsAPI error codes worth asking again later (the rest mean a bad key, plan or request).
RETRYABLE_CODES = frozenset({"rateLimited", "unexpectedError"})

#: NewsAPI documents a daily quota per plan, not a rate; one request per second is polite.
NEWSAPI_RATE_PER_S = 1.0
_TICKER = re.compile(r"[A-Za-z0-9]{2,10}")


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


class NewsApiSource(SingleClientConnector):
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
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> NewsApiSource:
        """Searches for the names and tickers of ``assets``."""
        key = require_key(settings.newsapi_key, "RWA_NEWSAPI_KEY")
        client = HttpClient.for_source(
            cls.name,
            settings,
            base_url=settings.newsapi_base_url,
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
                request,
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
