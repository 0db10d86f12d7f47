"""``silver/news``: one news article, keyed by its canonical URL, linked to the assets it names.

Parsers:

* NewsAPI ``/v2/everything`` (``simulated`` imitates it, ``newsapi`` is the real API):
  ``{"articles": [{source: {name}, author, title, description, url, publishedAt, content}]}``.
* RSS 2.0 / Atom feeds (``news``): the payload is the feed's XML text. It is parsed in Python
  (a Spark UDF) safely: with ``defusedxml`` when it is installed, else with the standard
  library after :func:`pipelines.ingestion.news.feed_problem` has refused any DOCTYPE (so no
  entity is ever expanded). A feed that is not well-formed RSS/Atom is refused as a line.

``article_id`` is the SHA-256 of the canonical URL (:func:`canonical_url`), or, without a URL,
of ``outlet``, ``title`` and ``published_at`` (UTC, ``yyyy-MM-dd HH:mm:ss``) joined by U+001F.

``asset_ids`` links an article to the reference assets it names in its title, description or
content (:func:`asset_patterns`): a name or alias matches case-insensitively, a ticker
case-sensitively (``DAI``, ``USDe``, ``syrupUSDC``), and either only as a whole word -- not
preceded or followed by a letter or digit -- so ``DAI`` does not match inside ``DAILY`` or
``USDC`` inside ``syrupUSDC``, while ``USDC-backed`` still names USDC.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.reference import Asset
from pipelines.ingestion.news import EVERYTHING_ENDPOINT, feed_problem
from pipelines.ingestion.simulated import NEWS_ENDPOINT
from pipelines.silver.spec import (
    UTC_TS,
    DatasetSpec,
    Envelope,
    PayloadParser,
    Record,
    silver_schema,
)

SCHEMA = silver_schema(
    pa.field("date", pa.date32()),
    pa.field("article_id", pa.string()),
    pa.field("published_at", UTC_TS),
    pa.field("title", pa.string()),
    pa.field("description", pa.string()),
    pa.field("content", pa.string()),
    pa.field("url", pa.string()),
    pa.field("outlet", pa.string()),
    pa.field("author", pa.string()),
    pa.field("language", pa.string()),
    pa.field("asset_ids", pa.list_(pa.string())),
)
KEYS = ("date", "article_id")

# --- linking articles to assets --------------------------------------------------------------

_WORD_START = "(?<![A-Za-z0-9])"
_WORD_END = "(?![A-Za-z0-9])"
#: A term written like a ticker (capitals and digits, or a ticker of the reference data).
_TICKERLIKE = re.compile(r"[A-Z0-9]{2,10}")
_MIN_NAME_CHARS = 3


def asset_terms(asset: Asset) -> tuple[list[str], list[str]]:
    """(names, tickers) an article may name ``asset`` by.

    Names: the full name, its part before a comma or parenthesis, and parenthesised aliases
    (``(FOBXX)``, ``(formerly Hashnote US Yield Coin)``, ``(Sky Dollar)``). Tickers: the symbol
    when it is a plain ticker (machine symbols like ``REALTOKEN-S-...`` are not written in
    prose), and aliases written like one. A name equal to a ticker is matched as the ticker.
    """
    tickers = [asset.symbol] if re.fullmatch(r"[A-Za-z0-9]{2,10}", asset.symbol) else []
    names = [asset.name, re.split(r"[(,]", asset.name, maxsplit=1)[0].strip()]
    for alias in re.findall(r"\(([^()]+)\)", asset.name):
        alias = re.sub(r"^formerly\s+", "", alias.strip(), flags=re.IGNORECASE)
        (tickers if _TICKERLIKE.fullmatch(alias) else names).append(alias)
    folded = {t.casefold() for t in tickers}
    names = [
        n for n in dict.fromkeys(names) if len(n) >= _MIN_NAME_CHARS and n.casefold() not in folded
    ]
    return names, list(dict.fromkeys(tickers))


def _quote(term: str) -> str:
    """A literal in a Java regular expression."""
    return r"\Q" + term.replace(r"\E", r"\E\\E\Q") + r"\E"


def asset_patterns(assets: Sequence[Asset]) -> dict[str, str]:
    """asset_id -> Java regular expression matching a mention of it (see the module doc)."""
    terms = {asset.asset_id: asset_terms(asset) for asset in assets}
    patterns: dict[str, str] = {}
    for asset_id, (names, tickers) in terms.items():
        others = [n for other, (ns, _) in terms.items() if other != asset_id for n in ns]
        alternatives = [f"(?i:{'|'.join(map(_quote, names))})"] if names else []
        alternatives += [_quote(t) for t in tickers]
        if alternatives:
            inside = "".join(_not_inside(term, others) for term in (*names, *tickers))
            body = "|".join(alternatives)
            patterns[asset_id] = f"{_WORD_START}{inside}(?:{body}){_WORD_END}"
    return patterns


def _not_inside(term: str, other_names: Sequence[str]) -> str:
    """Lookbehinds refusing ``term`` where it is the tail of another asset's name ("USDC" in
    "Maple Syrup USDC"): the longer name wins."""
    guards = []
    for name in other_names:
        match = re.search(f"{_WORD_START}{re.escape(term)}$", name, flags=re.IGNORECASE)
        if match and match.start() > 0:
            guards.append(f"(?<!(?i:{_quote(name[: match.start()])}))")
    return "".join(guards)


def linked_assets(text: Column, patterns: dict[str, str]) -> Column:
    return F.array_compact(
        F.array(*(F.when(text.rlike(p), F.lit(a)) for a, p in patterns.items()))
    ).cast(ArrayType(StringType()))


# --- identity ------------------------------------------------------------------------------


def canonical_url(url: Column) -> Column:
    """The URL trimmed, without fragment and ``utm_*`` tracking parameters, with scheme and host
    in lower case and no trailing slash: the same article linked twice gets one id."""
    u = F.regexp_replace(F.trim(url), r"#.*$", "")
    u = F.regexp_replace(u, r"([?&])utm_[^=&]*=[^&]*&?", "$1")
    u = F.regexp_replace(u, r"[?&]+$", "")
    origin = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*"
    u = F.concat(F.lower(F.regexp_extract(u, f"({origin})", 1)), F.regexp_replace(u, origin, ""))
    return F.nullif(F.regexp_replace(u, r"/+(\?|$)", "$1"), F.lit(""))


def article_id(url: Column, outlet: Column, title: Column, published_at: Column) -> Column:
    fallback = F.concat_ws("\u001f", outlet, title, published_at.cast("string"))
    return F.sha2(F.coalesce(canonical_url(url), fallback), 256)


class _ArticleParser(PayloadParser):
    """What both article shapes share: identity, date and asset links."""

    def __init__(self, source: str, assets: Sequence[Asset]) -> None:
        self.source = source
        self.patterns = asset_patterns(assets)

    def article(
        self,
        record: Record,
        *,
        published: Column,
        published_label: str,
        text: dict[str, Column],
    ) -> None:
        """Fill the article columns from its parts (``text``: title, description, content,
        url, outlet, author, language as text)."""
        for name, value in text.items():
            record.set(name, F.nullif(F.trim(value), F.lit("")))
        published_at = record.timestamp("published_at", published, published_label)
        record.set("date", F.to_date(published_at))
        record.set(
            "article_id",
            article_id(text["url"], text["outlet"], text["title"], published_at),
        )
        words = F.concat_ws(" ", text["title"], text["description"], text["content"])
        record.set("asset_ids", linked_assets(words, self.patterns))


class NewsApiArticles(_ArticleParser):
    endpoints: tuple[str, ...] = (EVERYTHING_ENDPOINT, NEWS_ENDPOINT)
    shape: str = "NewsAPI articles"
    params: tuple[str, ...] = ("language",)

    @property
    def payload_type(self) -> DataType:
        article = StructType(
            [
                StructField("source", StructType([StructField("name", StringType())])),
                *(
                    StructField(name, StringType())
                    for name in ("author", "title", "description", "url", "publishedAt", "content")
                ),
            ]
        )
        return StructType([StructField("articles", ArrayType(article))])

    def line_problem(self, prepared: Column) -> Column | None:
        return F.when(prepared["articles"].isNull(), F.lit(reasons.NO_ARTICLES.text()))

    def items(self, prepared: Column) -> Column:
        return prepared["articles"]

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        self.article(
            record,
            published=item["publishedAt"],
            published_label="publishedAt",
            text={
                "title": item["title"],
                "description": item["description"],
                "content": item["content"],
                "url": item["url"],
                "outlet": item["source"]["name"],
                "author": item["author"],
                "language": envelope.param("language"),
            },
        )
        return record


# --- RSS / Atom ----------------------------------------------------------------------------

FEED_ITEM_FIELDS = ("title", "url", "description", "content", "author", "outlet", "language")
FEED_ITEM = StructType(
    [StructField(name, StringType()) for name in (*FEED_ITEM_FIELDS, "published")]
)
FEED = StructType([StructField("error", StringType()), StructField("items", ArrayType(FEED_ITEM))])
_ATOM = "{http://www.w3.org/2005/Atom}"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _safe_fromstring(text: str) -> ElementTree.Element:
    """Parse XML with defusedxml when installed, else the standard library after refusing a
    DOCTYPE (no DOCTYPE: no entity definitions, so nothing can be expanded)."""
    try:
        from defusedxml import ElementTree as DefusedElementTree  # type: ignore[import-untyped]
    except ImportError:
        return ElementTree.fromstring(text)
    root: ElementTree.Element = DefusedElementTree.fromstring(text)
    return root


def parse_feed(text: str | None) -> dict[str, Any]:
    """``{"error": why the feed is unusable or None, "items": [...]}`` for one feed document;
    item values are text (``published`` as ISO 8601 when it could be read, else as sent).

    Never raises: it runs inside a Spark UDF, where an exception would fail the whole batch
    (and every rerun of it) instead of refusing one line.
    """
    if text is None:
        return {"error": None, "items": []}
    try:
        problem = feed_problem(text)
        if problem is not None:
            return {"error": reasons.FEED_REFUSED.text(problem=problem), "items": []}
        root = _safe_fromstring(text)
        items = _atom_items(root) if root.tag == f"{_ATOM}feed" else _rss_items(root)
    except Exception as error:  # any failure is this line's refusal reason, not the batch's
        return {
            "error": reasons.FEED_UNREADABLE.text(error=type(error).__name__),
            "items": [],
        }
    return {"error": None, "items": items}


def _text(element: ElementTree.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text


def _plain(markup: str | None) -> str | None:
    """Feed descriptions are HTML: keep the words."""
    if markup is None:
        return None
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)).strip() or None


def _when(text: str | None, *, rfc822: bool) -> str | None:
    if text is None:
        return None
    try:
        parsed = (
            email.utils.parsedate_to_datetime(text)
            if rfc822
            else dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        )
    except (TypeError, ValueError, OverflowError):
        return text  # Spark refuses it, naming the field
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC).isoformat()
    except OverflowError:  # an offset that moves year 1 or 9999 out of range
        return text


def _rss_items(root: ElementTree.Element) -> list[dict[str, str | None]]:
    channel = root.find("channel")
    if channel is None:
        return []
    outlet, language = _text(channel.find("title")), _text(channel.find("language"))
    return [
        {
            "title": _text(item.find("title")),
            "url": _text(item.find("link")),
            "description": _plain(_text(item.find("description"))),
            "content": _plain(_text(item.find(_CONTENT_ENCODED))),
            "author": _text(item.find(_DC_CREATOR)) or _text(item.find("author")),
            "outlet": outlet,
            "language": language,
            "published": _when(_text(item.find("pubDate")), rfc822=True),
        }
        for item in channel.findall("item")
    ]


def _atom_items(root: ElementTree.Element) -> list[dict[str, str | None]]:
    outlet, language = _text(root.find(f"{_ATOM}title")), root.get(_XML_LANG)
    items = []
    for entry in root.findall(f"{_ATOM}entry"):
        links = [
            link.get("href")
            for link in entry.findall(f"{_ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        published = _text(entry.find(f"{_ATOM}published")) or _text(entry.find(f"{_ATOM}updated"))
        items.append(
            {
                "title": _text(entry.find(f"{_ATOM}title")),
                "url": links[0] if links else None,
                "description": _plain(_text(entry.find(f"{_ATOM}summary"))),
                "content": _plain(_text(entry.find(f"{_ATOM}content"))),
                "author": _text(entry.find(f"{_ATOM}author/{_ATOM}name")),
                "outlet": outlet,
                "language": entry.get(_XML_LANG) or language,
                "published": _when(published, rfc822=False),
            }
        )
    return items


class FeedItems(_ArticleParser):
    """Items of an RSS 2.0 or Atom feed (the ``news`` source; any feed URL is the endpoint)."""

    shape: str = "RSS/Atom XML text"

    @property
    def payload_type(self) -> DataType:
        return StringType()

    def prepare(self, payload: Column) -> Column:
        # A lambda: Spark would otherwise read parse_feed's type hints as a pandas UDF's.
        return F.udf(lambda text: parse_feed(text), FEED)(payload)

    def line_problem(self, prepared: Column) -> Column | None:
        return prepared["error"]

    def items(self, prepared: Column) -> Column:
        return prepared["items"]

    def record(self, item: Column, envelope: Envelope) -> Record:
        record = Record()
        self.article(
            record,
            published=item["published"],
            published_label="pubDate/published",
            text={name: item[name] for name in FEED_ITEM_FIELDS},
        )
        return record


def news_spec(assets: Sequence[Asset]) -> DatasetSpec:
    return DatasetSpec(
        name="news",
        schema=SCHEMA,
        keys=KEYS,
        partition_by=("date",),
        parsers=(
            NewsApiArticles("simulated", assets),
            NewsApiArticles("newsapi", assets),
            FeedItems("news", assets),
        ),
    )
