"""RSS 2.0 / Atom feed payloads (source ``news``) -> ``silver/news`` records.

The payload is the feed's XML text. It is parsed in Python (a Spark UDF) safely: with
``defusedxml`` when it is installed, else with the standard library after
:func:`pipelines.ingestion.news.connector.feed_problem` has refused any DOCTYPE (so no entity is
ever expanded). A feed that is not well-formed RSS/Atom is refused as a line. Identity and asset
links: :mod:`pipelines.ingestion.articles`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.ingestion.articles import ArticleParser
from pipelines.ingestion.news.connector import feed_problem
from pipelines.ingestion.payloads import Envelope, Record
from pipelines.ingestion.sql_functions import register_function
from pipelines.ingestion.sql_records import Sql, SqlEnvelope, SqlRecord, field

if TYPE_CHECKING:
    import duckdb

FEED_ITEM_FIELDS = ("title", "url", "description", "content", "author", "outlet", "language")
FEED_ITEM = StructType(
    [StructField(name, StringType()) for name in (*FEED_ITEM_FIELDS, "published")]
)
FEED = StructType([StructField("error", StringType()), StructField("items", ArrayType(FEED_ITEM))])
_ATOM = "{http://www.w3.org/2005/Atom}"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: :data:`FEED` in Arrow and in DuckDB, for :func:`parse_feed` as a DuckDB function.
_ARROW_FEED = pa.struct(
    [
        ("error", pa.string()),
        ("items", pa.list_(pa.struct([(f.name, pa.string()) for f in FEED_ITEM.fields]))),
    ]
)
_DUCK_FEED = (
    "STRUCT(error VARCHAR, items STRUCT("
    + ", ".join(f"{f.name} VARCHAR" for f in FEED_ITEM.fields)
    + ")[])"
)
PARSE_FEED = "rwa_parse_feed"
#: A feed's text begins with ``<`` (after a byte order mark or XML white space). A payload
#: that does not is refused without asking the XML parser where it failed: a JSON number or
#: object sent as the payload reaches the parser as text that each engine writes its own way
#: (Spark ``1.0E13``, DuckDB ``10000000000000.0``), and the reason must not depend on it.
_XML_START = re.compile(r"[\ufeff \t\r\n]*<")
_NOT_XML = "it is not XML (its text does not begin with '<')"


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
    if not _XML_START.match(text):
        return {"error": reasons.FEED_REFUSED.text(problem=_NOT_XML), "items": []}
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


def parse_feeds(texts: pa.Array[Any]) -> pa.Array[Any]:
    """:func:`parse_feed` over an Arrow array of feed texts (the DuckDB function)."""
    return pa.array([parse_feed(text) for text in texts.to_pylist()], _ARROW_FEED)


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


class FeedItems(ArticleParser):
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

    def register_sql_functions(self, con: duckdb.DuckDBPyConnection) -> None:
        super().register_sql_functions(con)
        register_function(con, PARSE_FEED, parse_feeds, ["VARCHAR"], _DUCK_FEED)

    def sql_prepare(self, payload: Sql) -> Sql:
        return f"{PARSE_FEED}({payload})"

    def sql_line_problem(self, prepared: Sql) -> Sql | None:
        return field(prepared, "error")

    def sql_items(self, prepared: Sql) -> Sql:
        return field(prepared, "items")

    def sql_record(self, item: Sql, envelope: SqlEnvelope) -> SqlRecord:
        record = SqlRecord()
        self.sql_article(
            record,
            published=field(item, "published"),
            published_label="pubDate/published",
            text={name: field(item, name) for name in FEED_ITEM_FIELDS},
        )
        return record
