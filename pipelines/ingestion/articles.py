"""News articles, whichever source sent them: identity and the assets they name.

Shared by the parsers of every news source (:mod:`pipelines.ingestion.newsapi`,
:mod:`pipelines.ingestion.news`) through :class:`ArticleParser`.

``article_id`` is the SHA-256 of the canonical URL (:func:`canonical_url`), or, without a URL,
of ``outlet``, ``title`` and ``published_at`` (UTC, ``yyyy-MM-dd HH:mm:ss``) joined by U+001F.

``asset_ids`` links an article to the reference assets it names in its title, description or
content (:func:`asset_patterns`): a name or alias matches case-insensitively, a ticker
case-sensitively (``DAI``, ``USDe``, ``syrupUSDC``), and either only as a whole word -- not
preceded or followed by a letter or digit -- so ``DAI`` does not match inside ``DAILY`` or
``USDC`` inside ``syrupUSDC``, while ``USDC-backed`` still names USDC.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from pipelines.contracts.reference import Asset
from pipelines.ingestion.payloads import PayloadParser, Record
from pipelines.ingestion.sql_functions import register_function, register_spark_lower, spark_lower
from pipelines.ingestion.sql_records import Sql, SqlRecord, literal

if TYPE_CHECKING:
    import duckdb

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


def asset_patterns(assets: Sequence[Asset], quote: Callable[[str], str] = _quote) -> dict[str, str]:
    """asset_id -> Java regular expression matching a mention of it (see the module doc);
    with ``quote=re.escape``, the same expression for Python's ``re`` (the DuckDB half)."""
    terms = {asset.asset_id: asset_terms(asset) for asset in assets}
    patterns: dict[str, str] = {}
    for asset_id, (names, tickers) in terms.items():
        others = [n for other, (ns, _) in terms.items() if other != asset_id for n in ns]
        alternatives = [f"(?i:{'|'.join(map(quote, names))})"] if names else []
        alternatives += [quote(t) for t in tickers]
        if alternatives:
            inside = "".join(_not_inside(term, others, quote) for term in (*names, *tickers))
            body = "|".join(alternatives)
            patterns[asset_id] = f"{_WORD_START}{inside}(?:{body}){_WORD_END}"
    return patterns


def _not_inside(term: str, other_names: Sequence[str], quote: Callable[[str], str]) -> str:
    """Lookbehinds refusing ``term`` where it is the tail of another asset's name ("USDC" in
    "Maple Syrup USDC"): the longer name wins."""
    guards = []
    for name in other_names:
        match = re.search(f"{_WORD_START}{re.escape(term)}$", name, flags=re.IGNORECASE)
        if match and match.start() > 0:
            guards.append(f"(?<!(?i:{quote(name[: match.start()])}))")
    return "".join(guards)


def linked_assets(text: Column, patterns: dict[str, str]) -> Column:
    return F.array_compact(
        F.array(*(F.when(text.rlike(p), F.lit(a)) for a, p in patterns.items()))
    ).cast(ArrayType(StringType()))


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


class ArticleParser(PayloadParser):
    """What both article shapes share: identity, date and asset links."""

    def __init__(self, source: str, assets: Sequence[Asset]) -> None:
        self.source = source
        self.assets = tuple(assets)
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

    # --- the DuckDB half (pipelines.ingestion.sql_records) ---------------------------------

    def sql_article(
        self,
        record: SqlRecord,
        *,
        published: Sql,
        published_label: str,
        text: Mapping[str, Sql],
    ) -> None:
        """:meth:`article` in SQL."""
        for name, value in text.items():
            record.set(name, f"nullif(trim({value}), '')")
        published_at = record.timestamp("published_at", published, published_label)
        record.set("date", f"CAST({published_at} AS DATE)")
        record.set(
            "article_id",
            sql_article_id(text["url"], text["outlet"], text["title"], published_at),
        )
        words = f"concat_ws(' ', {text['title']}, {text['description']}, {text['content']})"
        record.set("asset_ids", f"{self._links_function}({words})")

    def register_sql_functions(self, con: duckdb.DuckDBPyConnection) -> None:
        register_spark_lower(con)
        register_function(
            con, self._links_function, _linker(self._python_patterns), ["VARCHAR"], "VARCHAR[]"
        )

    @property
    def _python_patterns(self) -> dict[str, re.Pattern[str]]:
        """The asset patterns for Python's ``re``: ASCII-only case folding, as Java's ``(?i)``."""
        return {
            asset_id: re.compile(pattern, re.ASCII)
            for asset_id, pattern in asset_patterns(self.assets, quote=re.escape).items()
        }

    @property
    def _links_function(self) -> str:
        """The SQL name of the asset linking of these assets (one per set of patterns)."""
        digest = hashlib.sha256(json.dumps(self.patterns, sort_keys=True).encode()).hexdigest()
        return f"rwa_asset_links_{digest[:16]}"


def _linker(patterns: Mapping[str, re.Pattern[str]]) -> Callable[[pa.Array[Any]], pa.Array[Any]]:
    """:func:`linked_assets` over an Arrow array of texts (DuckDB's RE2 has no lookbehind)."""

    def link(texts: pa.Array[Any]) -> pa.Array[Any]:
        return pa.array(
            [
                [a for a, p in patterns.items() if text is not None and p.search(text)]
                for text in texts.to_pylist()
            ],
            pa.list_(pa.string()),
        )

    return link


#: Java's line terminators, and its ``.`` and ``$`` (not multi-line) in RE2: any character but
#: a line terminator; the end of the text, or just before a line terminator ending it (which
#: the RE2 pattern consumes, as group 1, and the replacement puts back).
_TERMINATORS = r"\n\r\x{85}\x{2028}\x{2029}"
_JAVA_DOT = f"[^{_TERMINATORS}]"
_JAVA_END = rf"(\r\n|[{_TERMINATORS}])?$"
_ORIGIN = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*"


def _replace_all(text: Sql, pattern: str, replacement: str) -> Sql:
    return f"regexp_replace({text}, {literal(pattern)}, {literal(replacement)}, 'g')"


def sql_canonical_url(url: Sql) -> Sql:
    """:func:`canonical_url` in SQL, with Java's regex semantics."""
    u = _replace_all(f"trim({url})", f"#{_JAVA_DOT}*{_JAVA_END}", r"\1")
    u = _replace_all(u, r"([?&])utm_[^=&]*=[^&]*&?", r"\1")
    u = _replace_all(u, f"[?&]+{_JAVA_END}", r"\1")
    origin = spark_lower(f"regexp_extract({u}, {literal(f'({_ORIGIN})')}, 1)")
    u = f"({origin} || regexp_replace({u}, {literal(_ORIGIN)}, ''))"
    u = _replace_all(u, rf"/+(\?|{_JAVA_END})", r"\1")
    return f"nullif({u}, '')"


def sql_article_id(url: Sql, outlet: Sql, title: Sql, published_at: Sql) -> Sql:
    """:func:`article_id` in SQL."""
    fallback = f"concat_ws(chr(31), {outlet}, {title}, {_spark_timestamp_text(published_at)})"
    return f"sha256(coalesce({sql_canonical_url(url)}, {fallback}))"


def _spark_timestamp_text(instant: Sql) -> Sql:
    """A timestamp as Spark casts it to text in UTC: ``yyyy-MM-dd HH:mm:ss``, then the fraction
    of a second without trailing zeros, if any."""
    utc = f"timezone('UTC', {instant})"
    fraction = f"rtrim(strftime({utc}, '%f'), '0')"
    return (
        f"(strftime({utc}, '%Y-%m-%d %H:%M:%S')"
        f" || CASE WHEN {fraction} = '' THEN '' ELSE '.' || {fraction} END)"
    )
