"""The suites compiled to DuckDB SQL agree with Great Expectations: on the rows that hit every
check's edges (those the Spark gate is held to), both gates refuse the same rows with
byte-identical reasons and report the same counts per check; GX's Python regexes keep their
matches under RE2, or are refused."""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given

from pipelines.core.errors import ConfigurationError
from pipelines.ingestion.sql_records import literal as sql_literal
from pipelines.quality.compiled import PYTHON_WHITESPACE, REASON_COLUMN, quality_columns
from pipelines.quality.duck_gate import DuckQualityGate
from pipelines.quality.duck_rules import WHITESPACE_CLASS, bound, compile_check, re2_regex
from pipelines.quality.gate import QualityGate
from pipelines.quality.suites import SUITES, Check
from tests.pipelines.quality import edges
from tests.pipelines.quality.silver_rows import silver_rows


def by_duck(
    duck: DuckQualityGate, con: duckdb.DuckDBPyConnection, dataset: str, rows: pa.Table
) -> edges.Verdicts:
    relation = con.from_arrow(rows)
    history = duck.nav_history(con, relation) if dataset == "onchain" else None
    annotated = duck.annotate(con, dataset, relation, nav_history=history)
    got = annotated.project(f"ingest_id, {REASON_COLUMN}").fetchall()
    # The rows keep their order.
    assert [ingest_id for ingest_id, _ in got] == rows.column("ingest_id").to_pylist()
    results = duck.results(con, dataset, annotated, batch_id=3, run_id="duck")
    return edges.Verdicts(dict(got), [edges.counts(r) for r in results])


def assert_agree(
    gx: QualityGate, duck: DuckQualityGate, con: Any, dataset: str, rows: pa.Table
) -> edges.Verdicts:
    want = edges.by_gx(gx, dataset, rows)
    got = by_duck(duck, con, dataset, rows)
    assert got.reasons == want.reasons
    assert got.results == want.results
    return got


def test_prices_edges_agree_with_gx(gx, duck, con):
    got = assert_agree(
        gx, duck, con, "prices", silver_rows("prices", *edges.tagged(*edges.PRICE_EDGES))
    )
    assert len([r for r in got.reasons.values() if r]) >= 16  # the edges do hit the checks


def test_onchain_edges_agree_with_gx_across_silver_history(gx, duck, con):
    rows = silver_rows("onchain", *edges.tagged(*edges.ONCHAIN_EDGES))
    got = assert_agree(gx, duck, con, "onchain", rows)
    jumps = [r for r in got.reasons.values() if r and "nav_usd must change" in r]
    assert len(jumps) >= 5


@pytest.mark.parametrize(
    ("dataset", "cases"),
    [
        ("economic", edges.ECONOMIC_EDGES),
        ("news", edges.NEWS_EDGES),
        ("transfers", edges.TRANSFER_EDGES),
    ],
)
def test_other_edges_agree_with_gx(gx, duck, con, dataset, cases):
    assert_agree(gx, duck, con, dataset, silver_rows(dataset, *edges.tagged(*cases)))


def test_every_suite_is_covered_by_an_edge_test():
    assert set(SUITES) == {"prices", "onchain", "economic", "news", "transfers"}


@edges.random_batches(10)
@given(edges.PRICE_ROWS)
def test_random_price_rows_agree_with_gx(gx, duck, con, rows):
    assert_agree(gx, duck, con, "prices", silver_rows("prices", *edges.tagged(*rows)))


def test_an_empty_batch_has_no_results_and_keeps_the_columns(duck, con):
    empty = con.from_arrow(silver_rows("prices", {}).slice(0, 0))
    annotated = duck.annotate(con, "prices", empty)
    assert annotated.columns[: len(empty.columns)] == empty.columns
    added = set(annotated.columns[len(empty.columns) :])
    assert added == {*quality_columns(SUITES["prices"]), REASON_COLUMN}
    assert duck.results(con, "prices", annotated, batch_id=4, run_id="t") == []
    assert annotated.fetchall() == []


# --- regexes under RE2 ----------------------------------------------------------------------
def test_the_whitespace_class_is_python_whitespace_in_re2(con):
    pattern = sql_literal(f"[{WHITESPACE_CLASS}]")
    (matched,) = con.execute(
        f"SELECT list(c ORDER BY c) FROM (SELECT chr(i::INTEGER) AS c FROM range(1, 55296) t(i)) "
        f"WHERE regexp_matches(c, {pattern})"
    ).fetchall()[0]
    assert "".join(matched) == "".join(sorted(PYTHON_WHITESPACE))


@pytest.mark.parametrize("pattern", edges.PATTERNS)
def test_translated_regexes_match_as_python_searches(con, pattern):
    translated = sql_literal(re2_regex(pattern))
    got = [
        con.execute(f"SELECT regexp_matches({sql_literal(s)}, {translated})").fetchall()[0][0]
        for s in edges.SUBJECTS
    ]
    assert got == [re.search(pattern, s) is not None for s in edges.SUBJECTS]


@pytest.mark.parametrize(
    "pattern", [r"\w+", r"\d", r"\bx", r"[^\S]", r"(a)\1", r"(?i)a", r"(?=a)", r"a$b", r"a{,2}"]
)
def test_constructs_that_differ_between_python_and_re2_are_refused(pattern):
    with pytest.raises(ConfigurationError, match="differs between Python"):
        re2_regex(pattern)


# --- compilation refuses what it does not know ----------------------------------------------
TYPES = {"ts": "TIMESTAMP WITH TIME ZONE", "close": "DOUBLE"}


def test_unknown_expectations_arguments_and_columns_are_refused():
    unknown = Check("expect_column_values_to_be_unique", {"column": "ts"}, "ts unique", "why")
    with pytest.raises(ConfigurationError, match="expect_column_values_to_be_unique"):
        compile_check(unknown, TYPES)
    mostly = Check("expect_column_values_to_not_be_null", {"column": "ts", "mostly": 0.9}, "s", "w")
    with pytest.raises(ConfigurationError, match="mostly"):
        compile_check(mostly, TYPES)
    absent = Check("expect_column_values_to_not_be_null", {"column": "open"}, "s", "w")
    with pytest.raises(ConfigurationError, match="'open', absent"):
        compile_check(absent, TYPES)
    pair = Check(
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "close", "column_B": "close"},
        "s",
        "w",
    )
    with pytest.raises(ConfigurationError, match="ignore_row_if"):
        compile_check(pair, TYPES)
    with pytest.raises(ConfigurationError, match="no SQL form"):
        bound(object())


def test_bounds_are_exact_typed_literals(con):
    values = [1.7976931348623157e308, float("-inf"), 0.1, 5, True]
    got = con.execute("SELECT " + ", ".join(bound(v) for v in values)).fetchall()[0]
    assert list(got) == values
