"""Property-based: no payload of any source, however malformed, crashes its silver parser.

For every parser, hypothesis mutates a small valid payload (items dropped, duplicated or added,
values replaced by nulls, booleans, huge integers, NaN and infinities as JSON literals or as
strings, numbers written as strings, nested objects and arrays, text cut or spliced into XML),
and, for some lines, the envelope around it or the whole line. The generated lines of every
parser of a dataset go through the real Spark parsing engine in ONE batch per example (Spark
jobs, not examples, are what costs), beside a valid line of each parser, and:

* parsing never raises;
* every line is counted once (``_line_head``), every record is either structurally valid or
  carries a non-empty reason, and a line whose payload still fits the shape yields exactly one
  record per item (refused or not: nothing silently dropped);
* a record without a reason has its key and only finite numbers within the declared bounds;
* the valid lines' records all pass, whatever is beside them in the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from pipelines.contracts.envelope import canonical_json
from pipelines.contracts.measures import AMOUNT_LIMIT, PRICE_LIMIT
from pipelines.contracts.quarantine import reason_for
from pipelines.ingestion.coingecko import OHLC_ENDPOINT
from pipelines.ingestion.defillama import (
    PROTOCOL_ENDPOINT,
    STABLECOIN_CHART_ENDPOINT,
    STABLECOINS_ENDPOINT,
)
from pipelines.ingestion.fred import OBSERVATIONS_ENDPOINT
from pipelines.ingestion.newsapi import EVERYTHING_ENDPOINT
from pipelines.ingestion.simulated import ONCHAIN_ENDPOINT, PRICES_ENDPOINT
from pipelines.ingestion.worldbank import INDICATOR_ENDPOINT
from pipelines.reference import load_assets
from pipelines.silver.parsing import IS_RECORD, LINE_HEAD, RAW, REASON, parse_lines
from pipelines.silver.registry import dataset_spec
from pipelines.silver.spec import DatasetSpec
from tests.pipelines.silver.bronze_factory import DAY0, hourly_bars

FETCHED = "2026-01-06T00:05:00Z"
DAY_S = int(DAY0.timestamp())
RSS = (Path(__file__).parents[2] / "fixtures/http/rss/rss2.xml").read_text()
#: Columns that must hold a price (per unit) in a record that passes.
PRICE_COLUMNS = ("open", "high", "low", "close", "nav_usd")


def _count_list(payload: Any) -> int | None:
    return len(payload) if isinstance(payload, list) else None


def _count_in(key: str) -> Callable[[Any], int | None]:
    def count(payload: Any) -> int | None:
        inner = payload.get(key) if isinstance(payload, dict) else None
        return len(inner) if isinstance(inner, list) else None

    return count


@dataclass(frozen=True)
class Shape:
    """One parser's payload: where it lands, a small valid example, and how many records a
    payload of this shape holds (None where the parser filters or splits items)."""

    name: str
    dataset: str
    source: str
    endpoint: str
    valid: Any
    params: dict[str, Any] = field(default_factory=dict)
    records: Callable[[Any], int | None] = lambda _payload: None


SHAPES = [
    Shape(
        "coinapi-ohlcv",
        "prices",
        "simulated",
        PRICES_ENDPOINT,
        hourly_bars(DAY0, 100.0, hours=2),
        {"symbol_id": "SIMEX_SPOT_BTC_USD", "period_id": "1HRS"},
        _count_list,
    ),
    Shape(
        "coingecko-ohlc",
        "prices",
        "coingecko",
        OHLC_ENDPOINT,
        [[(DAY_S + 4 * 3600 * k) * 1000, 100.0, 102.0, 99.0, 101.0] for k in (1, 2)],
        {"id": "bitcoin", "vs_currency": "usd", "days": 7},
        _count_list,
    ),
    Shape(
        "simulated-onchain",
        "onchain",
        "simulated",
        ONCHAIN_ENDPOINT,
        [
            {"timestamp": "2026-01-05T00:00:00Z", "holders": 61, "nav_usd": 1.0},
            {"timestamp": "2026-01-04T00:00:00Z", "total_supply": "5e8", "tvl_usd": 1.5e8},
        ],
        {"asset": "buidl"},
        _count_list,
    ),
    Shape(
        "defillama-protocol",
        "onchain",
        "defillama",
        PROTOCOL_ENDPOINT,
        {"tvl": [{"date": DAY_S, "totalLiquidityUSD": 5.1e8}], "tokensInUsd": []},
        {"slug": "blackrock-buidl"},
        _count_in("tvl"),
    ),
    Shape(
        "defillama-protocol-shared",
        "onchain",
        "defillama",
        PROTOCOL_ENDPOINT,
        {"tvl": [], "tokensInUsd": [{"date": DAY_S, "tokens": {"OUSG": 6e8, "USDY": 4e8}}]},
        {"slug": "ondo-yield-assets"},
    ),
    Shape(
        "defillama-stablecoin-chart",
        "onchain",
        "defillama",
        STABLECOIN_CHART_ENDPOINT,
        [{"date": str(DAY_S), "totalCirculatingUSD": {"peggedUSD": 7.5e10}}],
        {"stablecoin": 2, "gecko_id": "usd-coin"},
        _count_list,
    ),
    Shape(
        "defillama-stablecoins",
        "onchain",
        "defillama",
        STABLECOINS_ENDPOINT,
        {"peggedAssets": [{"gecko_id": "usd-coin", "circulating": {"peggedUSD": 7.5e10}}]},
    ),
    Shape(
        "fred-observations",
        "economic",
        "fred",
        OBSERVATIONS_ENDPOINT,
        {
            "realtime_start": "2026-01-05",
            "observations": [
                {"date": "2026-01-02", "value": "4.17"},
                {"date": "2026-01-01", "value": "."},
            ],
        },
        {"series_id": "DGS10"},
        _count_in("observations"),
    ),
    Shape(
        "worldbank-indicator",
        "economic",
        "worldbank",
        INDICATOR_ENDPOINT,
        [
            {"page": 1, "pages": 1},
            [
                {
                    "indicator": {"id": "FP.CPI.TOTL.ZG", "value": "Inflation (annual %)"},
                    "countryiso3code": "USA",
                    "date": "2024",
                    "value": 2.9,
                }
            ],
        ],
    ),
    Shape(
        "newsapi-articles",
        "news",
        "newsapi",
        EVERYTHING_ENDPOINT,
        {
            "status": "ok",
            "articles": [
                {
                    "source": {"name": "Example Wire"},
                    "title": "Tokenized treasuries grow",
                    "url": "https://news.example.com/a?utm_source=x",
                    "publishedAt": "2026-01-05T10:00:00Z",
                    "content": "BUIDL and USDC",
                }
            ],
        },
        {"language": "en"},
        _count_in("articles"),
    ),
    Shape("rss-feed", "news", "news", "https://feeds.example.com/rss2.xml", RSS),
]
#: The simulated source imitates FRED and NewsAPI: the same parsers, under its own name.
SHAPES += [
    replace(shape, name=f"simulated-{shape.name}", source="simulated")
    for shape in SHAPES
    if shape.name in ("fred-observations", "newsapi-articles")
]

# --- malformed values -------------------------------------------------------------------------

NASTY_TEXT = st.sampled_from(
    [
        "Infinity",
        "-Infinity",
        "NaN",
        "inf",
        "1e308",
        "-1e400",
        "99999999999999999999999999",
        "",
        " ",
        "n/a",
        "0x1A",
        "1,5",
        "BTC\u200b",
        "🚀",
        "null",
        "<rss><channel><item><pubDate>Mon, 99 Foo</pubDate></item></channel></rss>",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><rss/>',
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ]
)
ONE_LINE_TEXT = st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=12)
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, -(2**63), 10**20, -(10**19)]),
    st.floats(),  # NaN and the infinities included: written as the JSON literals
    st.sampled_from([1e308, -1e308, 1e18 + 1e10, 1e13, 5e-324]),
    NASTY_TEXT,
    ONE_LINE_TEXT,
    st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one change somewhere inside it."""
    if isinstance(value, list) and value:
        op = draw(st.sampled_from(["into", "into", "drop", "extra", "duplicate", "replace"]))
        i = draw(st.integers(0, len(value) - 1))
        if op == "into":
            return [*value[:i], draw(mutated(value[i])), *value[i + 1 :]]
        if op == "drop":
            return [*value[:i], *value[i + 1 :]]
        if op == "extra":
            return [*value[:i], draw(JUNK), *value[i:]]
        if op == "duplicate":
            return [*value, value[i]]
    elif isinstance(value, dict) and value:
        op = draw(st.sampled_from(["into", "into", "into", "drop", "extra", "replace"]))
        key = draw(st.sampled_from(sorted(value)))
        if op == "into":
            return {**value, key: draw(mutated(value[key]))}
        if op == "drop":
            return {k: v for k, v in value.items() if k != key}
        if op == "extra":
            return {**value, draw(st.text(max_size=6)): draw(JUNK)}
    elif isinstance(value, str) and len(value) > 1 and draw(st.booleans()):
        # splice: a slice replaced by other text (cut short, junk inserted, a value changed)
        start = draw(st.integers(0, len(value)))
        end = draw(st.integers(start, min(len(value), start + 200)))
        return value[:start] + draw(st.one_of(NASTY_TEXT, ONE_LINE_TEXT)) + value[end:]
    return draw(JUNK)


@st.composite
def changed(draw: st.DrawFn, value: Any) -> Any:
    for _ in range(draw(st.integers(1, 3))):
        value = draw(mutated(value))
    return value


# --- lines of a batch -------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    shape: Shape
    text: str
    #: Records the line must yield unless it is refused as a whole (None: not checked).
    records: int | None = None
    valid: bool = False


def envelope(shape: Shape, payload: Any) -> dict[str, Any]:
    return {
        "dataset": shape.dataset,
        "endpoint": shape.endpoint,
        "fetched_at": FETCHED,
        "ingest_id": "0" * 32,
        "params": shape.params,
        "payload": payload,
        "schema_version": 1,
        "source": shape.source,
    }


@st.composite
def bad_line(draw: st.DrawFn, shape: Shape) -> Line:
    kind = draw(st.sampled_from(["payload", "payload", "payload", "envelope", "text"]))
    if kind == "payload":
        payload = draw(changed(shape.valid))
        return Line(shape, canonical_json(envelope(shape, payload)), shape.records(payload))
    if kind == "envelope":
        return Line(shape, canonical_json(draw(changed(envelope(shape, shape.valid)))))
    return Line(shape, draw(st.one_of(ONE_LINE_TEXT, NASTY_TEXT)))


def valid_line(shape: Shape) -> Line:
    text = canonical_json(envelope(shape, shape.valid))
    return Line(shape, text, shape.records(shape.valid), valid=True)


def parse(spark: SparkSession, dataset: str, lines: list[Line]) -> pa.Table:
    rows = [(line.text, f"bronze/line-{n:04d}", line.shape.source) for n, line in enumerate(lines)]
    frame = spark.createDataFrame(rows, "value string, bronze_file string, path_source string")
    return parse_lines(frame, SPECS[dataset]).toArrow()


SPECS: dict[str, DatasetSpec] = {
    name: dataset_spec(name, load_assets()) for name in ("prices", "onchain", "economic", "news")
}


def assert_accounted(spec: DatasetSpec, lines: list[Line], table: pa.Table) -> None:
    by_line: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        by_line.setdefault(row["bronze_file"], []).append(row)
    assert len(by_line) == len(lines), "a line produced no row at all"
    for n, line in enumerate(lines):
        rows = by_line[f"bronze/line-{n:04d}"]
        context = (line.text[:300], [(r[REASON], r[RAW]) for r in rows][:5])
        assert sum(r[LINE_HEAD] for r in rows) == 1, context
        records = [r for r in rows if r[IS_RECORD]]
        for row in records:
            reason = row[REASON]
            assert reason is None or reason.strip(), context
            # Every reason is one the registry declares (pipelines.contracts.quarantine).
            assert reason is None or reason_for(reason) is not None, context
            if reason is None:
                assert_clean_record(spec, row, context)
        if any(r[REASON] is not None and r[RAW] == line.text for r in records):
            assert len(records) == 1, context  # a line refused whole is one refusal
        elif line.records is not None:
            assert len(records) == line.records, context
        assert all(r[REASON] is None for r in rows if not r[IS_RECORD]), context
        if line.valid:
            assert records and all(r[REASON] is None for r in records), context


def assert_clean_record(spec: DatasetSpec, row: dict[str, Any], context: object) -> None:
    assert all(row[key] is not None for key in spec.keys), context
    for name in spec.schema.names:
        value = row[name]
        if isinstance(value, float | int) and not isinstance(value, bool):
            limit = PRICE_LIMIT if name in PRICE_COLUMNS else AMOUNT_LIMIT
            assert math.isfinite(value) and abs(value) <= limit, (name, value, context)


@pytest.mark.parametrize("dataset", sorted(SPECS))
@settings(
    max_examples=2,
    deadline=None,
    database=None,
    # No shrinking: each step is a Spark job, and the assertion already names the bad line.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_malformed_payloads_never_crash_and_are_accounted_for(
    spark: SparkSession, dataset: str, data: st.DataObject
) -> None:
    lines = []
    for shape in (s for s in SHAPES if s.dataset == dataset):
        bad = st.lists(bad_line(shape), min_size=15, max_size=30)
        lines += [valid_line(shape), *data.draw(bad, label=shape.name)]

    table = parse(spark, dataset, lines)

    assert_accounted(SPECS[dataset], lines, table)


def test_every_parser_has_a_shape() -> None:
    """Each parser of each dataset is fuzzed (a new parser needs a shape here)."""
    for name, spec in SPECS.items():
        for parser in spec.parsers:
            assert [
                shape
                for shape in SHAPES
                if (shape.dataset, shape.source) == (name, parser.source)
                and (not parser.endpoints or shape.endpoint in parser.endpoints)
            ], (name, parser.source, parser.endpoints)


def test_each_value_is_cast_once(spark: SparkSession) -> None:
    """Each field's cast is computed once per record, not once per check reading it (Spark
    shares nothing between the branches of the CASE WHEN picking the first problem)."""
    shape = next(s for s in SHAPES if s.name == "coinapi-ohlcv")
    line = valid_line(shape)
    frame = spark.createDataFrame(
        [(line.text, "bronze/line-0000", shape.source)],
        "value string, bronze_file string, path_source string",
    )
    rows = parse_lines(frame, SPECS["prices"])
    plan = rows._jdf.queryExecution().executedPlan().toString()
    for name in ("price_open", "volume_traded", "time_period_start"):
        assert plan.count(f".{name} as ") == 1, name
