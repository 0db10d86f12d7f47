"""The DuckDB gate is the Spark gate's twin: on the rows that hit every check's edges (a real
silver/onchain Delta table for the NAV history), ``annotate`` adds the same columns with the
same values, ``results`` reports the same results (samples included), and both agree with Great
Expectations; plus the DuckDB gate's own contract (row order, empty batches, misuse)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from pipelines.core.errors import ConfigurationError, DataContractError
from pipelines.core.settings import Settings
from pipelines.quality.compiled import REASON_COLUMN
from pipelines.quality.results import ResultStore
from pipelines.quality.spark_gate import SparkQualityGate
from tests.fixtures.lake import lake_of
from tests.pipelines.quality.edges import (
    ECONOMIC_EDGES,
    NEWS_EDGES,
    ONCHAIN_EDGES,
    PRICE_EDGES,
    TRANSFER_EDGES,
    by_gx,
    counts,
    tagged,
    whole,
)
from tests.pipelines.quality.silver_rows import silver_rows

EDGES = {
    "prices": PRICE_EDGES,
    "onchain": ONCHAIN_EDGES,
    "economic": ECONOMIC_EDGES,
    "news": NEWS_EDGES,
    "transfers": TRANSFER_EDGES,
}


@pytest.fixture(scope="module")
def spark_gate(edge_settings: Settings) -> SparkQualityGate:
    return SparkQualityGate.from_settings(edge_settings.quality, *lake_of(edge_settings))


@pytest.fixture(scope="module")
def store(edge_settings: Settings) -> ResultStore:
    lake, paths = lake_of(edge_settings)
    return ResultStore(lake, paths.quality_results)


def keyed(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["ingest_id"]: row for row in table.to_pylist()}


@pytest.mark.parametrize("dataset", list(EDGES))
def test_annotate_and_results_agree_with_spark_and_gx(
    gx, spark_gate, duck, spark: SparkSession, con, dataset
):
    rows = silver_rows(dataset, *tagged(*EDGES[dataset]))
    frame = spark.createDataFrame(rows)
    history = spark_gate.nav_history(frame) if dataset == "onchain" else None
    by_spark = spark_gate.annotate(dataset, frame, nav_history=history).cache()
    relation = con.from_arrow(rows)
    arrow_history = duck.nav_history(con, relation) if dataset == "onchain" else None
    by_duck = duck.annotate(con, dataset, relation, nav_history=arrow_history)
    try:
        # the same columns in the same order, the same values row by row
        assert by_duck.columns == by_spark.columns
        added = ["ingest_id", *by_duck.columns[rows.num_columns :]]
        want = keyed(by_spark.select(*added).toArrow())
        got_table = by_duck.project(", ".join(f'"{c}"' for c in added)).to_arrow_table()
        assert got_table.column("ingest_id").to_pylist() == rows.column("ingest_id").to_pylist()
        assert keyed(got_table) == want
        spark_results = spark_gate.results(dataset, by_spark, batch_id=7, run_id="twin")
    finally:
        by_spark.unpersist()
    duck_results = duck.results(con, dataset, by_duck, batch_id=7, run_id="twin")
    if dataset == "onchain":
        # Spark's window shuffles the rows: its samples are the first unexpected values in
        # its order, not the batch's; the samples are compared with GX's below.
        assert [_without_sample(r) for r in duck_results] == [
            _without_sample(r) for r in spark_results
        ]
    else:
        assert [whole(r) for r in duck_results] == [whole(r) for r in spark_results]
    reference = by_gx(gx, dataset, rows)
    assert [counts(r) for r in duck_results] == reference.results
    assert dict(by_duck.project(f"ingest_id, {REASON_COLUMN}").fetchall()) == reference.reasons


def _without_sample(result: Any) -> dict[str, Any]:
    return {k: v for k, v in whole(result).items() if k != "observed_value"}


def test_samples_are_the_first_unexpected_values_in_row_order_as_gx_lists_them(
    gx, duck, store, con
):
    rows = silver_rows("prices", *tagged(*({"volume": -float(i)} for i in range(8, 0, -1))))
    annotated = duck.annotate(con, "prices", con.from_arrow(rows))
    results = duck.results(con, "prices", annotated, batch_id=8, run_id="order")
    (volume,) = [r for r in results if r.rule == "volume must be >= 0"]
    assert (volume.unexpected_count, volume.observed_value) == (8, "[-8.0, -7.0, -6.0, -5.0, -4.0]")
    gx = gx.check("prices", rows, batch_id=8, run_id="order").results
    (want,) = [r for r in gx if r.rule == "volume must be >= 0"]
    assert volume.observed_value == want.observed_value
    # stored like the Spark gate's results
    stored = store.read()
    stored = stored.filter(pc.equal(stored["run_id"], "order"))
    assert stored.num_rows == len(results)


def test_onchain_samples_follow_the_batch_order(gx, duck, con):
    rows = silver_rows("onchain", *tagged(*ONCHAIN_EDGES))
    relation = con.from_arrow(rows)
    annotated = duck.annotate(con, "onchain", relation, nav_history=duck.nav_history(con, relation))
    got = duck.results(con, "onchain", annotated, batch_id=9, run_id="nav")
    want = gx.check("onchain", rows, batch_id=9, run_id="nav").results
    (nav_got,) = [r for r in got if r.columns == "nav_change"]
    (nav_want,) = [r for r in want if r.columns == "nav_change"]
    assert nav_got.observed_value == nav_want.observed_value


def test_an_empty_batch_has_no_results(duck, con):
    empty = con.from_arrow(silver_rows("onchain", {}).slice(0, 0))
    assert duck.nav_history(con, empty) is None
    annotated = duck.annotate(con, "onchain", empty)
    assert duck.results(con, "onchain", annotated, batch_id=10, run_id="t") == []
    assert annotated.fetchall() == []


def test_misuse_raises_as_the_spark_gate(duck, con):
    relation = con.from_arrow(silver_rows("prices", {}))
    with pytest.raises(ConfigurationError, match="no quality suite for dataset 'trades'"):
        duck.annotate(con, "trades", relation)
    with pytest.raises(DataContractError, match=r"lack silver column.*high"):
        duck.annotate(con, "prices", relation.project("* EXCLUDE (high)"))
    with pytest.raises(DataContractError, match=r"already have column.*reason"):
        duck.annotate(con, "prices", relation.project("*, 'parse' AS reason"))


def test_the_reason_reads_the_verdict_columns(duck, con):
    """Each check's expression is evaluated in one projection only: the plan builds the reason
    from the verdict columns, not from the checks again."""
    rows = silver_rows("news", *tagged({}, {"title": " "}))
    annotated = duck.annotate(con, "news", con.from_arrow(rows))
    plan = annotated.explain()
    checks = len(duck.quality_columns("news")) - 2  # less the two derived columns
    for i in range(checks):
        assert f"CASE WHEN (quality_check_{i:02d}) THEN" in plan
