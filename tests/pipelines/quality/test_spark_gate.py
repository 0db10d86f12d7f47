"""The suites compiled to Spark agree with Great Expectations: on rows that hit every check's
edges (nulls, NaN, infinities, exact bounds, equal pairs, a missing side, row filters, blank and
whitespace-only text, clock skew, NAV jumps across silver history and the batch), both gates
refuse the same rows with byte-identical reasons and report the same counts per check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core.errors import ConfigurationError, DataContractError
from pipelines.lake.paths import LakePaths
from pipelines.quality.compiled import REASON_COLUMN, check_column
from pipelines.quality.gate import QualityGate
from pipelines.quality.spark_gate import SparkQualityGate
from pipelines.quality.spark_rules import compile_check, java_regex
from pipelines.quality.suites import SUITES, Check
from tests.fixtures.lake import lake_of, lake_settings
from tests.pipelines.quality.edges import (
    ECONOMIC_EDGES,
    NEWS_EDGES,
    ONCHAIN_EDGES,
    PATTERNS,
    PRICE_EDGES,
    PRICE_ROWS,
    SUBJECTS,
    TRANSFER_EDGES,
    Verdicts,
    by_gx,
    counts,
    random_batches,
    tagged,
    whole,
    write_onchain_history,
)
from tests.pipelines.quality.silver_rows import silver_rows


@dataclass(frozen=True)
class Gates:
    gx: QualityGate
    spark: SparkQualityGate
    onchain_uri: str


@pytest.fixture(scope="module")
def gates(tmp_path_factory: pytest.TempPathFactory) -> Gates:
    settings = lake_settings(Path(tmp_path_factory.mktemp("spark_gate")))
    lake, paths = lake_of(settings)
    return Gates(
        QualityGate.from_settings(settings.quality, lake, paths),
        SparkQualityGate.from_settings(settings.quality, lake, paths),
        LakePaths(settings.lake).silver("onchain"),
    )


def by_spark(gates: Gates, spark: SparkSession, dataset: str, rows: pa.Table) -> Verdicts:
    frame = spark.createDataFrame(rows)
    history = gates.spark.nav_history(frame) if dataset == "onchain" else None
    annotated = gates.spark.annotate(dataset, frame, nav_history=history).cache()
    try:
        got = annotated.select("ingest_id", REASON_COLUMN).collect()
        results = gates.spark.results(dataset, annotated, batch_id=2, run_id="spark")
        counted, pending = gates.spark.observed(dataset, annotated)
        assert counted.columns == annotated.columns
        counted.write.format("noop").mode("overwrite").save()
        observed = pending.results(batch_id=2, run_id="spark")
    finally:
        annotated.unpersist()
    # counted while the rows are written, the results are the very same (samples included)
    assert [whole(r) for r in observed] == [whole(r) for r in results]
    return Verdicts({r["ingest_id"]: r[REASON_COLUMN] for r in got}, [counts(r) for r in results])


def assert_agree(gates: Gates, spark: SparkSession, dataset: str, rows: pa.Table) -> Verdicts:
    want = by_gx(gates.gx, dataset, rows)
    got = by_spark(gates, spark, dataset, rows)
    assert got.reasons == want.reasons
    assert got.results == want.results
    return got


def test_prices_edges_agree_with_gx(gates, spark):
    got = assert_agree(gates, spark, "prices", silver_rows("prices", *tagged(*PRICE_EDGES)))
    refused = [r for r in got.reasons.values() if r]
    assert len(refused) >= 16  # the edges do hit the checks
    assert any(not success for _, _, success, *_ in got.results)


def test_onchain_edges_agree_with_gx_across_silver_history(gates, spark):
    write_onchain_history(gates.onchain_uri)
    got = assert_agree(gates, spark, "onchain", silver_rows("onchain", *tagged(*ONCHAIN_EDGES)))
    jumps = [r for r in got.reasons.values() if r and "nav_usd must change" in r]
    assert len(jumps) >= 5


def test_economic_edges_agree_with_gx(gates, spark):
    assert_agree(gates, spark, "economic", silver_rows("economic", *tagged(*ECONOMIC_EDGES)))


def test_news_edges_agree_with_gx(gates, spark):
    assert_agree(gates, spark, "news", silver_rows("news", *tagged(*NEWS_EDGES)))


def test_transfers_edges_agree_with_gx(gates, spark):
    assert_agree(gates, spark, "transfers", silver_rows("transfers", *tagged(*TRANSFER_EDGES)))


def test_every_suite_is_covered_by_an_edge_test():
    assert set(SUITES) == {"prices", "onchain", "economic", "news", "transfers"}


@random_batches(3)
@given(PRICE_ROWS)
def test_random_price_rows_agree_with_gx(gates, spark, rows):
    assert_agree(gates, spark, "prices", silver_rows("prices", *tagged(*rows)))


def test_translated_regexes_match_in_spark_as_python_searches(spark):
    frame = spark.createDataFrame([(s,) for s in SUBJECTS], "subject string")
    for pattern in PATTERNS:
        got = frame.select(F.col("subject").rlike(java_regex(pattern))).collect()
        want = [re.search(pattern, s) is not None for s in SUBJECTS]
        assert [row[0] for row in got] == want, pattern


# --- the Spark gate's own contract ----------------------------------------------------------
def test_annotate_keeps_the_rows_and_adds_documented_columns(gates, spark):
    rows = silver_rows("prices", *tagged({}, {"high": 1.0}))
    annotated = gates.spark.annotate("prices", spark.createDataFrame(rows))
    extra = gates.spark.quality_columns("prices")
    assert annotated.columns[: rows.num_columns] == rows.column_names
    assert set(annotated.columns) == {*rows.column_names, *extra, REASON_COLUMN}
    assert "asset_class" not in annotated.columns and "fetched_at_limit" not in annotated.columns
    flags = annotated.select([check_column(i) for i in range(3)]).collect()
    assert [list(r) for r in flags] == [[False] * 3, [False] * 3]


def test_an_empty_batch_has_no_results(gates, spark):
    empty = spark.createDataFrame(silver_rows("prices", {}).slice(0, 0))
    annotated = gates.spark.annotate("prices", empty)
    assert gates.spark.results("prices", annotated, batch_id=3, run_id="t") == []
    assert annotated.where(F.col(REASON_COLUMN).isNotNull()).count() == 0


def test_misuse_raises(gates, spark):
    frame = spark.createDataFrame(silver_rows("prices", {}))
    with pytest.raises(ConfigurationError, match="no quality suite for dataset 'trades'"):
        gates.spark.annotate("trades", frame)
    with pytest.raises(DataContractError, match=r"lack silver column.*high"):
        gates.spark.annotate("prices", frame.drop("high"))
    with pytest.raises(DataContractError, match=r"already have column.*reason"):
        gates.spark.annotate("prices", frame.withColumn("reason", F.lit("parse")))
    unknown = Check("expect_column_values_to_be_unique", {"column": "ts"}, "ts unique", "why")
    with pytest.raises(ConfigurationError, match="expect_column_values_to_be_unique"):
        compile_check(unknown, frame.schema)
    mostly = Check("expect_column_values_to_not_be_null", {"column": "ts", "mostly": 0.9}, "s", "w")
    with pytest.raises(ConfigurationError, match="mostly"):
        compile_check(mostly, frame.schema)


def test_results_are_one_job_with_bounded_samples(gates, spark):
    rows = silver_rows("prices", *tagged(*({"volume": -float(i)} for i in range(1, 9))))
    annotated: DataFrame = gates.spark.annotate("prices", spark.createDataFrame(rows))
    context = spark.sparkContext
    context.setJobGroup("quality-results", "the results of one batch")
    try:
        results = gates.spark.results("prices", annotated, batch_id=4, run_id="t")
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    # One aggregation job: only the per-check aggregates reach the driver.
    assert len(context.statusTracker().getJobIdsForGroup("quality-results")) == 1
    (volume,) = [r for r in results if r.rule == "volume must be >= 0"]
    assert (volume.unexpected_count, volume.observed_value) == (8, "[-1.0, -2.0, -3.0, -4.0, -5.0]")


def test_observed_results_need_no_job_of_their_own(gates, spark):
    rows = silver_rows("prices", *tagged(*({"volume": -float(i)} for i in range(1, 9))))
    annotated: DataFrame = gates.spark.annotate("prices", spark.createDataFrame(rows))
    counted, pending = gates.spark.observed("prices", annotated)
    context = spark.sparkContext
    context.setJobGroup("quality-observed", "the write that counts")
    try:
        counted.write.format("noop").mode("overwrite").save()
        results = pending.results(batch_id=5, run_id="t")
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    # the write is the only job: the counts come back with it
    assert len(context.statusTracker().getJobIdsForGroup("quality-observed")) == 1
    (volume,) = [r for r in results if r.rule == "volume must be >= 0"]
    assert (volume.unexpected_count, volume.observed_value) == (8, "[-1.0, -2.0, -3.0, -4.0, -5.0]")
