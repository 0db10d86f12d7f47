"""The DuckDB parse agrees with the Spark parse, line for line, on hostile input.

Every parser's SQL half (:mod:`pipelines.ingestion.sql_records`) must give the same records,
values and reasons as its Spark half: hypothesis builds batches of valid and mutated lines of
every payload shape (the strategies of ``test_parser_properties``), both engines parse the same
batch, and each line's rows must be equal (the raw text of a refused record is compared as JSON
without its null fields: Spark's ``to_json`` leaves them out). The DuckDB rows must also pass
the property test's accounting (every line counted once, every refusal with a declared reason,
every valid record finite and within bounds).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, DataType, MapType, StringType, StructType

from pipelines.contracts.envelope import canonical_json
from pipelines.contracts.quarantine import reason_for
from pipelines.ingestion.sql_records import literal as sql_literal
from pipelines.reference import load_assets
from pipelines.silver import duck_parsing
from pipelines.silver.parsing import IS_RECORD, LINE_HEAD, RAW, REASON
from pipelines.silver.registry import dataset_spec
from tests.pipelines.silver.test_parser_properties import (
    SHAPES,
    SPECS,
    Line,
    Shape,
    assert_accounted,
    bad_line,
    envelope,
    parse,
    valid_line,
)

NUMBER = re.compile(r"[-+]?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+")

#: How Spark writes a NaN or infinity literal it reads as text.
QUOTED_NON_FINITE = re.compile(r'"[-+]?(NaN|Infinity)"')

#: A quoted JSON array or object (not a CoinGecko label such as '[4] (close)').
QUOTED_JSON = re.compile(r"'(\{(?!id\})|\[(?![0-9]+\] \())")


def duck_parse(dataset: str, lines: list[Line]) -> pa.Table:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    table = pa.table(
        {
            "value": [line.text for line in lines],
            "bronze_file": [f"bronze/line-{n:04d}" for n in range(len(lines))],
            "path_source": [line.shape.source for line in lines],
        }
    )
    with duck_parsing.LineParse(con, SPECS[dataset]).over(table) as parsed:
        return con.sql(parsed).to_arrow_table()


def rows_by_line(table: pa.Table) -> dict[str, list[tuple[Any, ...]]]:
    by_line: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in table.to_pylist():
        raw = row.pop(RAW)
        row = {k: _comparable_value(v) for k, v in row.items()}
        row[REASON] = _comparable_reason(row[REASON])
        row["raw"] = _comparable_raw(raw)
        by_line[row["bronze_file"]].append(tuple(sorted(row.items(), key=lambda kv: kv[0])))
    return {name: sorted(rows, key=repr) for name, rows in by_line.items()}


def _comparable_reason(reason: str | None) -> str | None:
    """A reason quoting a JSON value sent where text was expected (an endpoint that is an
    array) quotes it as each engine writes JSON; such reasons are compared by their code."""
    if reason is None:
        return None
    # A number quoted from a text field is written as each engine writes numbers (Spark
    # quotes the non-finite literals: '"NaN"' against 'NaN').
    reason = NUMBER.sub(lambda found: repr(float(found.group())), reason)
    reason = QUOTED_NON_FINITE.sub(lambda found: found.group()[1:-1], reason)
    if not QUOTED_JSON.search(reason):
        return reason
    declared = reason_for(reason)
    return reason if declared is None else f"<{declared.code}>"


def _comparable_value(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, str) and value[:1] in ("[", "{"):
        # JSON read into a text field (an ingest_id that is an array) is written as each
        # engine writes JSON (escapes, spacing): compared as the JSON value.
        try:
            return _without_nulls(json.loads(value))
        except ValueError:
            return value
    return _number_text(value)


def _number_text(value: Any) -> Any:
    """A number sent where text is expected reads as text, written as each engine writes it
    (``1.0E308`` or ``1e+308``; Spark quotes the non-finite literals: ``"NaN"``): compared as
    the number."""
    if isinstance(value, str):
        try:
            number = float(value[1:-1] if QUOTED_NON_FINITE.fullmatch(value) else value)
        except ValueError:
            return value
        return "NaN" if number != number else number
    return value


def _comparable_raw(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return _without_nulls(value)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, str):
        number = _number_text(value)  # "1.50" and "1.5" are the same number as text
        if number is not value:
            return number
        try:  # JSON kept as text (a nested value read into a text field): spacing may differ
            nested = json.loads(value)
        except ValueError:
            return value
        return _without_nulls(nested) if isinstance(nested, dict | list) else value
    return value


def assert_same_rows(spark_rows: pa.Table, duck_rows: pa.Table, lines: list[Line]) -> None:
    assert duck_rows.schema.names == spark_rows.schema.names
    spark_lines, duck_lines = rows_by_line(spark_rows), rows_by_line(duck_rows)
    assert sorted(spark_lines) == sorted(duck_lines)
    for name, expected in spark_lines.items():
        line = lines[int(name.rsplit("-", 1)[1])]
        got = duck_lines[name]
        diffs = [
            {k: (v, dict(d).get(k)) for k, v in e if dict(d).get(k) != v}
            for e, d in zip(expected, got, strict=False)
        ]
        assert got == expected, (line.text[:400], len(expected), len(got), diffs[:3])


#: The datasets whose parsers have their SQL half.
DUCK_DATASETS = ("prices", "onchain", "economic", "news")


@pytest.mark.parametrize("dataset", DUCK_DATASETS)
@settings(
    max_examples=3,
    deadline=None,
    database=None,
    # Each run draws new examples: a difference found is a real one, named by its line. (CI's
    # draw of a FRED realtime_start that the engines refused with different reasons led to
    # the date and instant rules both now share, pinned by the crafted cases below.) Reproduce
    # a failure with the seed hypothesis prints (--hypothesis-seed). By hand, 1,040 examples
    # (seeds 11, 12, 21-23, 31 and 32: about 75,000 lines) found two more, both fixed; the
    # last 320, with every fix in, none.
    derandomize=False,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_duckdb_parses_like_spark(spark: SparkSession, dataset: str, data: st.DataObject) -> None:
    lines = []
    for shape in (s for s in SHAPES if s.dataset == dataset):
        bad = st.lists(bad_line(shape), min_size=15, max_size=30)
        lines += [valid_line(shape), *data.draw(bad, label=shape.name)]
    # Bronze lines are UTF-8 text: a lone surrogate (which hypothesis may draw) is never one.
    # An article field sent as a number or an object is read as text each engine writes its
    # own way (Jackson's 1.0E18 against 1e+18), and news hashes that text into article_id: a
    # known difference (docs/silver.md), left out here.
    lines = [line for line in lines if _is_utf8(line.text) and not _article_text_as_json(line)]

    duck_rows = duck_parse(dataset, lines)

    assert_accounted(SPECS[dataset], lines, duck_rows)
    assert_same_rows(parse(spark, dataset, lines), duck_rows, lines)


def test_a_line_read_only_by_json_path_is_routed_alike(spark: SparkSession) -> None:
    """A line without the canonical prefix is routed by its ``endpoint`` field, read as both
    engines read the envelope: a NaN or infinity literal (which both envelope readers take)
    does not hide it (Spark's ``get_json_object`` refused such lines: "no silver parser")."""
    shape = next(s for s in SHAPES if s.name == "defillama-protocol")
    fields = json.loads(valid_line(shape).text)
    del fields["ingest_id"]
    # Not canonical: the endpoint is not the second key, so only a JSON path finds it.
    rest = json.dumps(dict(reversed(list(fields.items()))))[1:]
    lines = [
        Line(shape, f'{{"extra":{literal},{rest}')
        for literal in ("-Infinity", "NaN", "Infinity", "1")
    ]
    duck_rows = duck_parse(shape.dataset, lines)
    assert_same_rows(parse(spark, shape.dataset, lines), duck_rows, lines)
    assert all("ingest_id" in reason for reason in duck_rows[REASON].to_pylist())


#: The text fields of a NewsAPI article.
ARTICLE_TEXT = ("author", "title", "description", "url", "publishedAt", "content")


def _article_text_as_json(line: Line) -> bool:
    """Whether a NewsAPI line has an article whose text field holds a JSON number, array or
    object (its source's name included)."""
    try:
        payload = json.loads(line.text).get("payload")
    except (ValueError, AttributeError):
        return False
    articles = payload.get("articles") if isinstance(payload, dict) else None
    if not isinstance(articles, list):
        return False
    for article in articles:
        if not isinstance(article, dict):
            continue
        source = article.get("source")
        values = [article.get(name) for name in ARTICLE_TEXT]
        values.append(source.get("name") if isinstance(source, dict) else None)
        if any(value is not None and not isinstance(value, str) for value in values):
            return True
    return False


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_the_output_columns_are_the_spark_parse_columns() -> None:
    for dataset in DUCK_DATASETS:
        spec = SPECS[dataset]
        shape = next(shape for shape in SHAPES if shape.dataset == dataset)
        rows = duck_parse(dataset, [valid_line(shape)])
        assert rows.schema.names == [*spec.schema.names, REASON, RAW, LINE_HEAD, IS_RECORD]
        for column in spec.schema:
            assert rows.schema.field(column.name).type == column.type, (dataset, column.name)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["a", "b", "x"]), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _shaped(data_type: DataType) -> st.SearchStrategy[Any]:
    """JSON values of ``data_type``'s shape, any node of which may be any JSON value instead."""
    if isinstance(data_type, StringType):
        fitting: st.SearchStrategy[Any] = _json_values()
    elif isinstance(data_type, ArrayType):
        fitting = st.lists(_shaped(data_type.elementType), max_size=3)
    elif isinstance(data_type, MapType):
        fitting = st.dictionaries(st.text(max_size=2), _json_values(), max_size=3)
    else:
        assert isinstance(data_type, StructType)
        fitting = st.fixed_dictionaries(
            {}, optional={f.name: _shaped(f.dataType) for f in data_type}
        )
    return st.one_of(fitting, fitting, fitting, _json_values())


PAYLOAD_TYPES = {
    f"{parser.source}:{parser.shape}": parser.payload_type
    for spec in [*SPECS.values(), dataset_spec("transfers", load_assets())]
    for parser in spec.parsers
}


@pytest.mark.parametrize("parser", sorted(PAYLOAD_TYPES))
@settings(max_examples=40, deadline=None, database=None)
@given(data=st.data())
def test_a_payload_proven_by_its_transform_fits(parser: str, data: st.DataObject) -> None:
    """The parse judges a payload's shape from ``json_transform``'s output where that proves it
    (``surely_fits``) and reads the line's JSON again only where it cannot: whatever the
    payload, a proven one must fit as the line's JSON says, and the verdict with the shortcut
    must be the verdict without it."""
    data_type = PAYLOAD_TYPES[parser]
    payloads = data.draw(st.lists(_shaped(data_type), min_size=1, max_size=20))
    lines = [json.dumps({"payload": p}, allow_nan=True) for p in payloads]
    structure = "{" + f'"payload": {duck_parsing.json_structure(data_type)}' + "}"
    proven = duck_parsing.surely_fits("e.payload", data_type)
    judged = duck_parsing.fits("$.payload", data_type)
    con = duckdb.connect()
    con.register("l", pa.table({"_json": lines}))
    rows = con.execute(
        f"SELECT _json, {proven}, {judged} FROM"
        f" (SELECT _json, json_transform(_json, {sql_literal(structure)}) AS e FROM l)"
    ).fetchall()
    for line, sure, fit in rows:
        assert not sure or fit, line


def test_a_valid_payload_of_every_shape_is_proven_by_its_transform() -> None:
    """Where the shortcut pays: a valid line of every shape is judged without reading its JSON
    a second time."""
    for shape in (s for s in SHAPES if s.dataset in SPECS):
        parser = next(
            p
            for p in SPECS[shape.dataset].parsers
            if p.source == shape.source and (not p.endpoints or shape.endpoint in p.endpoints)
        )
        structure = "{" + f'"payload": {duck_parsing.json_structure(parser.payload_type)}' + "}"
        (proven,) = duckdb.execute(
            f"SELECT {duck_parsing.surely_fits('e.payload', parser.payload_type)}"
            f" FROM (SELECT json_transform(?, {sql_literal(structure)}) AS e)",
            [valid_line(shape).text],
        ).fetchone()
        assert proven, shape.name


# --- dates and instants: crafted values, one rule on both engines ------------------------------

NOT_A_DATE = "field '{label}' is not a date"
NOT_A_TIMESTAMP = "field '{label}' is not a timestamp"
OUT_OF_RANGE = "field '{label}' is out of range (years 1-9999)"
FETCHED_AT_NOT_TIMESTAMP = "envelope field 'fetched_at' is not a timestamp"

#: FRED date texts (``observations[].date``, ``observations[].realtime_start`` and the
#: document's ``realtime_start``) and the reason each gives (None: read). A calendar day of a
#: year beyond 1-9999 is out of range however far: Spark's cast of text to a date fails past
#: about 5.9 million years, where it said "not a date" and DuckDB "out of range" (CI drew the
#: JSON number -6974696, read as the year -6974696).
DATE_CASES: dict[Any, str | None] = {
    "2024-02-29": None,
    "2000-02-29": None,
    " 2026-01-05 ": None,
    "\t\x002026-1-5\n\x7f": None,
    "2026": None,  # a year alone is its first of January, as Spark's cast reads it
    "2026-01": None,
    "2026-01-05T junk": None,
    "0001-01-01": None,
    "9999-12-31": None,
    "0000-01-01": OUT_OF_RANGE,
    "-0000-01-01": OUT_OF_RANGE,
    "-0001-12-31": OUT_OF_RANGE,
    "10000-01-01": OUT_OF_RANGE,
    "+12345-01-01": OUT_OF_RANGE,
    "5881580-07-11": OUT_OF_RANGE,  # Spark's last day
    "5881580-07-12": OUT_OF_RANGE,  # beyond it
    "9999999-12-31": OUT_OF_RANGE,
    "-5877642-01-01": OUT_OF_RANGE,
    "9999996-02-29": OUT_OF_RANGE,
    -6974696: OUT_OF_RANGE,
    "0000-00-00": NOT_A_DATE,
    "9999999-02-29": NOT_A_DATE,
    "2023-02-29": NOT_A_DATE,
    "1900-02-29": NOT_A_DATE,
    "2026-04-31": NOT_A_DATE,
    "2026-13-01": NOT_A_DATE,
    "2026-01-00": NOT_A_DATE,
    "202": NOT_A_DATE,
    "20260105": NOT_A_DATE,  # eight digits are no year
    "12345678-01-01": NOT_A_DATE,
    "99999999999999999999-01-01": NOT_A_DATE,
    "2026-01-05-": NOT_A_DATE,
    "2026-01 x": NOT_A_DATE,
    "2026-01-05\u2028": NOT_A_DATE,  # a line separator Java's `$` would have let through
    "\u00a02026-01-05": NOT_A_DATE,
    "\uff12\uff10\uff12\uff16-01-05": NOT_A_DATE,  # full-width digits
    "--2026-01-05": NOT_A_DATE,
    "": NOT_A_DATE,
}

#: Instant texts (a record's timestamp fields and the envelope's ``fetched_at``) and the
#: reason each gives: the forms both engines' casts read alike (``INSTANT_TEXT``).
INSTANT_CASES: dict[Any, str | None] = {
    "2026-01-05T10:00:00Z": None,
    "2026-01-05": None,
    " 2026-01-05 ": None,  # DuckDB's cast alone refuses the trailing space
    "2026-01-05 10:00": None,
    "2026-01-05T9:00:00.1234567Z": None,
    "2026-01-05T10:00:00+18:00": None,
    "2026-01-05T10:00:00-0130": None,
    "2024-02-29T00:00:00Z": None,
    "0001-01-01T00:00:00Z": None,
    "9999-12-31T23:59:59.999999Z": None,
    "0000-01-01T00:00:00Z": OUT_OF_RANGE,
    "0001-01-01T00:00:00+01:00": OUT_OF_RANGE,
    "9999-12-31T23:59:59-01:00": OUT_OF_RANGE,
    "2026-01-05T24:00:00Z": NOT_A_TIMESTAMP,  # DuckDB's cast reads hour 24, Spark's not
    "2026-01-05T10:00:00+19:00": NOT_A_TIMESTAMP,  # nor an offset beyond 18 hours
    "2026-01-05T10:00:00+18:01": NOT_A_TIMESTAMP,
    "2026-01-05T10:00:00+00:60": NOT_A_TIMESTAMP,
    "2026-01-05T10:00Z": NOT_A_TIMESTAMP,  # nor an offset after hh:mm
    "2026-01-05T10:00:00 Z": NOT_A_TIMESTAMP,  # Spark's reads a space before it, DuckDB's not
    "2026-01-05Z": NOT_A_TIMESTAMP,
    "2026-02-30T00:00:00Z": NOT_A_TIMESTAMP,
    "2026-01-05T23:60:00Z": NOT_A_TIMESTAMP,
    "+12026-01-05T00:00:00Z": NOT_A_TIMESTAMP,
    "2026": NOT_A_TIMESTAMP,
}

#: Where each dataset's crafted values go: (shape, path in the payload, label, cases); a path
#: of None is the envelope's ``fetched_at``.
CRAFTED_FIELDS: dict[str, list[tuple[str, tuple[Any, ...] | None, str, dict[Any, str | None]]]] = {
    "economic": [
        ("fred-observations", ("observations", 0, "date"), "date", DATE_CASES),
        ("fred-observations", ("observations", 0, "realtime_start"), "realtime_start", DATE_CASES),
        ("simulated-fred-observations", ("realtime_start",), "realtime_start", DATE_CASES),
        ("fred-observations", None, "fetched_at", INSTANT_CASES),
    ],
    "prices": [
        ("coinapi-ohlcv", (0, "time_period_start"), "time_period_start", INSTANT_CASES),
        ("coingecko-ohlc", None, "fetched_at", INSTANT_CASES),
    ],
    "onchain": [("simulated-onchain", (0, "timestamp"), "timestamp", INSTANT_CASES)],
    "news": [("newsapi-articles", ("articles", 0, "publishedAt"), "publishedAt", INSTANT_CASES)],
}


def _with_value(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, list):
        return [*value[:head], _with_value(value[head], tuple(rest), new), *value[head + 1 :]]
    return {**value, head: _with_value(value.get(head), tuple(rest), new)}


def _crafted_line(shape: Shape, path: tuple[Any, ...] | None, value: Any) -> Line:
    fields = envelope(shape, shape.valid)
    if path is None:
        fields["fetched_at"] = value
    else:
        fields["payload"] = _with_value(shape.valid, path, value)
    return Line(shape, canonical_json(fields))


@pytest.mark.parametrize("dataset", sorted(CRAFTED_FIELDS))
def test_dates_and_instants_are_read_and_refused_alike(spark: SparkSession, dataset: str) -> None:
    """Crafted date and instant texts in every such field: both engines read the same ones,
    and refuse the others with the same reason, the one expected."""
    lines, expected = [], []
    for shape_name, path, label, cases in CRAFTED_FIELDS[dataset]:
        shape = next(s for s in SHAPES if s.name == shape_name)
        for value, reason in cases.items():
            lines.append(_crafted_line(shape, path, value))
            if path is None:
                reason = reason and FETCHED_AT_NOT_TIMESTAMP
            expected.append(reason and reason.format(label=label))

    duck_rows = duck_parse(dataset, lines)
    assert_same_rows(parse(spark, dataset, lines), duck_rows, lines)

    assert_refused_with(duck_rows, lines, expected)


def assert_refused_with(rows: pa.Table, lines: list[Line], reasons: list[str | None]) -> None:
    """Each line's records are refused with its reason, or none of them (None)."""
    got: dict[str, set[str | None]] = defaultdict(set)
    for row in rows.select(["bronze_file", REASON]).to_pylist():
        got[row["bronze_file"]].add(row[REASON])
    for n, (line, reason) in enumerate(zip(lines, reasons, strict=True)):
        refusals = got[f"bronze/line-{n:04d}"] - {None}
        assert refusals == ({reason} if reason else set()), line.text


#: CoinGecko close times (Unix milliseconds) near the ends of years 1-9999, with the reason each
#: gives: a candle is stamped with its opening (the close time less the candle, 4 hours here),
#: so a close time within year 1's first candle would open it in year 0, which no reader loads.
CLOSE_TIME_CASES: dict[int, str | None] = {
    -62_135_596_800_000: OUT_OF_RANGE,  # 0001-01-01T00:00Z
    -62_135_582_400_001: OUT_OF_RANGE,
    -62_135_582_400_000: None,  # the candle opens at 0001-01-01T00:00Z
    253_402_300_799_000: None,
    253_402_300_800_000: "field '{label}' is not a Unix time in milliseconds",
}


def test_a_candle_opening_before_year_1_is_refused_alike(spark: SparkSession) -> None:
    shape = next(s for s in SHAPES if s.name == "coingecko-ohlc")
    cases = [
        (value, reason)
        for millis, reason in CLOSE_TIME_CASES.items()
        for value in (millis, str(millis))
    ]
    lines = [_crafted_line(shape, (0, 0), value) for value, _ in cases]
    duck_rows = duck_parse("prices", lines)
    assert_same_rows(parse(spark, "prices", lines), duck_rows, lines)
    assert_refused_with(
        duck_rows, lines, [r and r.format(label="[0] (close time)") for _, r in cases]
    )


def test_a_non_finite_number_is_refused_alike(spark: SparkSession) -> None:
    """NaN and the infinities, as JSON literals or as text, refuse the record on both engines
    and leave its column null (the fuzz drew a volume sent as the literal ``Infinity``: Spark's
    text of it is quoted, so Spark's column was null and DuckDB's infinite)."""
    shape = next(s for s in SHAPES if s.name == "coinapi-ohlcv")
    values = [math.inf, -math.inf, math.nan, "Infinity", "-inf", "NaN", "1e400"]
    lines = [
        _crafted_line(shape, (0, name), value)
        for name in ("volume_traded", "price_open")
        for value in values
    ]
    # A reason quoting a non-finite literal quotes it as each engine writes it (Spark: "NaN").
    versions = {math.nan: "NaN", -math.inf: "-Infinity"}
    lines += [
        Line(shape, canonical_json(envelope(shape, shape.valid) | {"schema_version": version}))
        for version in versions
    ]
    duck_rows = duck_parse("prices", lines)
    assert_same_rows(parse(spark, "prices", lines), duck_rows, lines)
    reasons = [
        f"field '{name}' is not a finite number"
        for name in ("volume_traded", "price_open")
        for _ in values
    ] + [
        f"unsupported envelope schema_version '{text}' (silver reads major version 1)"
        for text in versions.values()
    ]
    assert_refused_with(duck_rows, lines, reasons)
    refused_volume = pc.equal(duck_rows[REASON], "field 'volume_traded' is not a finite number")
    assert duck_rows.filter(refused_volume)["volume"].null_count == len(values)
