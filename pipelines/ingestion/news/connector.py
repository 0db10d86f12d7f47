"""RSS/Atom feeds (source ``news``): the news feeds of ``RWA_NEWS_FEEDS``. Dataset ``news``.

``GET`` of every URL in ``RWA_NEWS_FEEDS``, RSS 2.0 (``<rss>``) or Atom (``<feed>``). The payload
is the feed's XML text exactly as received; it is only checked to be a well-formed RSS/Atom
document (:func:`feed_problem`). Feeds list their latest items whatever the window, so every run
lands the whole feed and silver keeps one row per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from xml.parsers import expat

import httpx

from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.http import HttpClient, HttpResponse, SingleClientConnector

#: Feeds are mostly on different hosts, but several may share one: stay gentle with each.
FEED_RATE_PER_S = 1.0

#: Root elements of the feed documents accepted (RSS 2.0 and Atom 1.0), as expat names them
#: ("namespace local"). RSS 2.0's ``<rss>`` has no namespace; Atom's ``<feed>`` must have its own.
FEED_ROOTS = frozenset({"rss", "http://www.w3.org/2005/Atom feed"})

_FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)


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


class RssFeedSource(SingleClientConnector):
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
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> RssFeedSource:
        """The feeds of ``RWA_NEWS_FEEDS``; feeds are not per asset, so ``assets`` is unused."""
        if not settings.news_feeds:
            raise ConfigurationError(
                "RWA_NEWS_FEEDS is not set: the news source needs RSS/Atom feed URLs, "
                "comma-separated"
            )
        for url in settings.news_feeds:
            if not _is_http_url(url):
                raise ConfigurationError(f"RWA_NEWS_FEEDS: {url!r} is not an http(s) URL")
        client = HttpClient.for_source(
            cls.name,
            settings,
            base_url="",  # every feed is an absolute URL
            rate_per_s=FEED_RATE_PER_S,
            headers={"Accept": _FEED_ACCEPT},
        )
        return cls(client, settings.news_feeds)

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
            raise self.refuse(
                request, response, f"not an RSS/Atom feed{moved}: {problem}", retryable=False
            )
        return response.text


def _is_http_url(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)
