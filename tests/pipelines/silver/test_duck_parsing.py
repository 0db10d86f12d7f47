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
import re
from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from pipelines.contracts.quarantine import reason_for
from pipelines.silver import duck_parsing
from pipelines.silver.parsing import IS_RECORD, LINE_HEAD, RAW, REASON
from tests.pipelines.silver.test_parser_properties import (
    SHAPES,
    SPECS,
    Line,
    assert_accounted,
    bad_line,
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
    return duck_parsing.parse_lines(con, con.from_arrow(table), SPECS[dataset]).to_arrow_table()


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
    # A number quoted from a text field is written as each engine writes numbers.
    reason = NUMBER.sub(lambda found: repr(float(found.group())), reason)
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
DUCK_DATASETS = ("prices", "onchain", "economic")


@pytest.mark.parametrize("dataset", DUCK_DATASETS)
@settings(
    max_examples=3,
    deadline=None,
    database=None,
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
    assume(all(_is_utf8(line.text) for line in lines))

    duck_rows = duck_parse(dataset, lines)

    assert_accounted(SPECS[dataset], lines, duck_rows)
    assert_same_rows(parse(spark, dataset, lines), duck_rows, lines)


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
