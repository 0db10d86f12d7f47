"""The DuckDB parse of ERC-20 Transfer-log pages agrees with the Spark parse, line for line.

``transfers`` has no shape in the property test's ``SPECS``: here both engines parse the
simulated source's pages (landed as ``simulated`` and as ``evm``), the hostile page of
``test_transfers`` and pages broken in the ways only a node's answer can be (amounts at and past
``decimal(38,0)``, quantities with a trailing line terminator or beyond Spark's instants, keys
repeated in other case, non-ASCII text Spark lower-cases differently from DuckDB), then
hypothesis-mutated pages; rows are compared with the helpers of ``test_duck_parsing``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, DataType, StringType, StructType

from pipelines.contracts.envelope import canonical_json
from pipelines.ingestion.evm.logs import LOGS_ENDPOINT, word
from pipelines.reference import load_assets
from pipelines.silver import duck_parsing
from pipelines.silver.parsing import parse_lines
from pipelines.silver.registry import dataset_spec
from tests.pipelines.silver.test_duck_parsing import assert_same_rows
from tests.pipelines.silver.test_parser_properties import (
    Line,
    Shape,
    assert_accounted,
    changed,
    envelope,
    valid_line,
)
from tests.pipelines.silver.test_transfers import _hostile, _simulated_pages

TRANSFERS = dataset_spec("transfers", load_assets())
PAYLOAD_TYPE = TRANSFERS.parsers[0].payload_type


def _page_records(payload: Any) -> int | None:
    """A range record per address, a record per log (None: the page is refused whole)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("logs"), list):
        return None
    addresses = payload.get("addresses")
    return len(payload["logs"]) + (len(addresses) if isinstance(addresses, list) else 0)


def _page_shapes() -> list[Shape]:
    """Every simulated page with logs, as each source that lands the shape sends it."""
    shapes = []
    for n, page in enumerate(e for e in _simulated_pages() if e.payload["logs"]):
        for source in ("simulated", "evm"):
            shapes.append(
                Shape(
                    f"{source}-page-{n}",
                    "transfers",
                    source,
                    LOGS_ENDPOINT,
                    page.payload,
                    dict(page.params),
                    _page_records,
                )
            )
    return shapes


SHAPES = _page_shapes()


def _broken_pages(page: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of ``page`` broken in the ways a node's answer can be."""
    good = page["logs"][0]
    header = next(b for b in page["blocks"] if b["number"] == good["blockNumber"])
    answer = page["decimals"][0]
    logs = [
        {**good, "data": word(2**124 - 1)},  # the largest amount kept
        {**good, "data": word(2**124)},  # the smallest refused
        {**good, "data": word(2**256 - 1)},
        {**good, "data": good["data"].upper().replace("0X", "0x")},
        {**good, "data": good["data"] + "\n"},
        {**good, "blockHash": good["blockHash"] + "\n"},
        {**good, "transactionHash": good["transactionHash"] + "\u2028"},
        {**good, "logIndex": "0x7\n"},
        {**good, "logIndex": "0x" + "f" * 16},
        {**good, "logIndex": None},
        {**good, "blockTimestamp": "0x" + "f" * 15},  # beyond Spark's instants
        {**good, "blockTimestamp": hex(253_402_300_799)},  # 9999-12-31T23:59:59Z
        {**good, "blockTimestamp": hex(253_402_300_800)},
        {**good, "blockTimestamp": "0x5F5E100"},
        {**good, "address": good["address"].upper().replace("0X", "0x")},
        {**good, "address": "0x" + "\u0130" * 40},  # İ: Spark lowers it to two characters
        {**good, "address": "\u03a3\u03a3 \u03a3"},  # a word's final Σ
        {**good, "address": None},
        {**good, "topics": None},
        {**good, "topics": [None, *good["topics"][1:]]},
        {**good, "topics": [good["topics"][0].upper().replace("0X", "0x"), *good["topics"][1:]]},
        {**good, "topics": good["topics"][:2]},
        {**good, "removed": "TRUE"},
        {**good, "removed": True},
        {**good, "removed": None},
    ]
    decimals = [
        {**answer, "result": "0x" + "f" * 15},
        {**answer, "result": "0x4e"},
        {**answer, "result": "12"},
        {**answer, "result": "0x" + "0" * 64},
        {**answer, "result": None},
    ]
    pages = [{**copy.deepcopy(page), "logs": logs}]
    for answer_changed in decimals:
        pages.append({**copy.deepcopy(page), "decimals": [answer_changed, *page["decimals"]]})
    pages += [
        {**page, "logs": None},
        {**page, "logs": []},
        {**page, "addresses": None},
        {**page, "addresses": [None, page["addresses"][0].upper()]},
        {**page, "toBlock": "0x0"},
        {**page, "toBlock": None},
        {**page, "blocks": None},
        {**page, "blocks": [{**header, "number": header["number"].upper()}, *page["blocks"]]},
        {**page, "blocks": [{**header, "timestamp": None}, *page["blocks"]]},
        {**page, "decimals": None},
        _hostile(page),
    ]
    return pages


def _lines(shape: Shape, payloads: list[Any]) -> list[Line]:
    return [
        Line(shape, canonical_json(envelope(shape, payload)), shape.records(payload))
        for payload in payloads
    ]


def _bronze_rows(lines: list[Line]) -> list[tuple[str, str, str]]:
    """(value, bronze_file, path_source) of each line."""
    return [(line.text, f"bronze/line-{n:04d}", line.shape.source) for n, line in enumerate(lines)]


def duck_parse(lines: list[Line]) -> pa.Table:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    names = ("value", "bronze_file", "path_source")
    bronze = pa.table(
        dict(zip(names, map(list, zip(*_bronze_rows(lines), strict=True)), strict=True))
    )
    with duck_parsing.LineParse(con, TRANSFERS).over(bronze) as parsed:
        rows: pa.Table = con.sql(parsed).to_arrow_table()
    return rows


def spark_parse(spark: SparkSession, lines: list[Line]) -> pa.Table:
    schema = "value string, bronze_file string, path_source string"
    table: pa.Table = parse_lines(
        spark.createDataFrame(_bronze_rows(lines), schema), TRANSFERS
    ).toArrow()
    return table


def assert_parsed_alike(spark: SparkSession, lines: list[Line]) -> None:
    duck_rows = duck_parse(lines)
    assert_accounted(TRANSFERS, lines, duck_rows)
    assert_same_rows(spark_parse(spark, lines), duck_rows, lines)


def test_pages_and_broken_pages_parse_alike(spark: SparkSession) -> None:
    lines = [valid_line(shape) for shape in SHAPES]
    for shape in SHAPES[:2]:  # one page, as each source
        lines += _lines(shape, _broken_pages(shape.valid))
    assert_parsed_alike(spark, lines)


def test_repeated_answers_keep_the_first() -> None:
    """DuckDB refuses a map with a repeated key: the page's first answer must still win."""
    shape = SHAPES[0]
    page = copy.deepcopy(shape.valid)
    good = page["logs"][0]
    header = next(b for b in page["blocks"] if b["number"] == good["blockNumber"])
    page["blocks"] = [{**header, "timestamp": "0x1"}, *page["blocks"], {**header, "number": None}]
    rows = duck_parse(_lines(shape, [page])).to_pylist()
    times = {
        r["block_ts"].timestamp() for r in rows if r["block_number"] == int(header["number"], 16)
    }
    assert times == {1.0}


def _text_is_text(value: Any, data_type: DataType) -> bool:
    """Whether every value the payload type reads as text is JSON text, a finite number or a
    boolean. An array, an object or a non-finite number sent where text is expected is read as
    JSON text, which each engine writes its own way (Spark escapes characters beyond the BMP
    and quotes ``NaN``): a difference of the engine (reported), not of the parser, left out here
    until the engine writes such values as Spark does."""
    if isinstance(data_type, StringType):  # Spark writes NaN as '"NaN"', quotes included
        return not isinstance(value, list | dict) and not (
            isinstance(value, float) and not math.isfinite(value)
        )
    if isinstance(data_type, ArrayType) and isinstance(value, list):
        return all(_text_is_text(v, data_type.elementType) for v in value)
    if isinstance(data_type, StructType) and isinstance(value, dict):
        return all(_text_is_text(value.get(f.name), f.dataType) for f in data_type)
    return True


@st.composite
def mutated_page(draw: st.DrawFn, shape: Shape) -> Line:
    """A line whose payload is changed (the envelope's checks are the engine's, tested by
    ``test_duck_parsing``)."""
    payload = draw(changed(shape.valid).filter(lambda p: _text_is_text(p, PAYLOAD_TYPE)))
    # A bronze line is UTF-8: no lone surrogate (which hypothesis's text may hold) is in one.
    text = canonical_json(envelope(shape, payload)).encode("utf-8", "replace").decode()
    return Line(shape, text, shape.records(payload))


#: Few examples (each is two Spark jobs); no shrinking (the assertion names the line).
MUTATION_SETTINGS = settings(
    max_examples=3,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("shape", SHAPES[:2], ids=lambda s: s.source)
@MUTATION_SETTINGS
@given(data=st.data())
def test_mutated_pages_parse_alike(spark: SparkSession, shape: Shape, data: st.DataObject) -> None:
    small = {**shape.valid, "logs": shape.valid["logs"][:3]}
    shape = replace(shape, valid=small)
    lines = [valid_line(shape), *data.draw(st.lists(mutated_page(shape), min_size=15, max_size=30))]
    assert_parsed_alike(spark, lines)
