"""The suites compiled to Spark agree with Great Expectations: on rows that hit every check's
edges (nulls, NaN, infinities, exact bounds, equal pairs, a missing side, row filters, blank and
whitespace-only text, clock skew, NAV jumps across silver history and the batch), both gates
refuse the same rows with byte-identical reasons and report the same counts per check."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core.errors import ConfigurationError, DataContractError
from pipelines.lake.paths import LakePaths
from pipelines.quality.gate import QualityGate
from pipelines.quality.results import ExpectationResult
from pipelines.quality.spark_gate import REASON_COLUMN, SparkQualityGate, check_column
from pipelines.quality.spark_rules import compile_check
from pipelines.quality.suites import EARLIEST_TS, SUITES, Check
from tests.fixtures.lake import lake_of, lake_settings
from tests.pipelines.quality.silver_rows import FETCHED, silver_rows

NAN, INF = float("nan"), float("inf")
MICRO = dt.timedelta(microseconds=1)
SKEW = dt.timedelta(minutes=10)


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


@dataclass(frozen=True)
class Verdicts:
    reasons: dict[str, str | None]  # ingest_id -> reason (None: accepted)
    results: list[tuple[Any, ...]]


def by_gx(gates: Gates, dataset: str, rows: pa.Table) -> Verdicts:
    outcome = gates.gx.check(dataset, rows, batch_id=1, run_id="gx")
    reasons: dict[str, str | None] = dict.fromkeys(outcome.valid.column("ingest_id").to_pylist())
    rejected = outcome.rejected.select(["ingest_id", "reason"]).to_pylist()
    reasons |= {row["ingest_id"]: row["reason"] for row in rejected}
    return Verdicts(reasons, [counts(r) for r in outcome.results])


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


def whole(result: ExpectationResult) -> dict[str, Any]:
    """Every field of a result but the instant it was made."""
    return {k: v for k, v in asdict(result).items() if k != "validated_at"}


def counts(result: ExpectationResult) -> tuple[Any, ...]:
    percent = result.unexpected_percent
    return (
        result.expectation,
        result.kwargs,
        result.success,
        result.element_count,
        result.unexpected_count,
        None if percent is None else round(percent, 9),
    )


def assert_agree(gates: Gates, spark: SparkSession, dataset: str, rows: pa.Table) -> Verdicts:
    want = by_gx(gates, dataset, rows)
    got = by_spark(gates, spark, dataset, rows)
    assert got.reasons == want.reasons
    assert got.results == want.results
    return got


def tagged(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"ingest_id": f"r{i}"} | row for i, row in enumerate(rows)]


def bar(price: float, asset_id: str = "usdc") -> dict[str, Any]:
    return {"asset_id": asset_id, "open": price, "high": price, "low": price, "close": price}


PRICE_EDGES = (
    {},
    {"high": None},
    {"open": NAN},
    {"close": INF, "high": INF},
    {"low": -INF},
    {"volume": NAN},
    {"volume": 0.0},
    {"volume": -0.0},
    {"volume": -1e-300},
    {"close": 0.0, "low": 0.0},
    {"open": 0.0, "low": 0.0},
    {"high": 100.0, "open": 100.0, "close": 100.0},
    {"high": math.nextafter(100.0, 0), "open": 100.0},
    {"high": None, "open": 200.0},
    {"ts": None},
    {"ts": EARLIEST_TS},
    {"ts": EARLIEST_TS - MICRO},
    {"ts": FETCHED + SKEW},
    {"ts": FETCHED + SKEW + MICRO},
    {"fetched_at": None, "ts": FETCHED + 2 * SKEW},
    bar(0.5),
    bar(1.5),
    bar(math.nextafter(1.5, 2)),
    bar(0.49),
    bar(NAN),
    bar(0.2, "btc"),
    bar(0.2, "no-such-asset"),
    {"asset_id": None, "close": 0.2, "low": 0.2, "open": 0.2},
    {"resolution": None, "high": 90.0, "low": 95.0, "volume": -2.0},
)


def test_prices_edges_agree_with_gx(gates, spark):
    got = assert_agree(gates, spark, "prices", silver_rows("prices", *tagged(*PRICE_EDGES)))
    refused = [r for r in got.reasons.values() if r]
    assert len(refused) >= 16  # the edges do hit the checks
    assert any(not success for _, _, success, *_ in got.results)


ONCHAIN_HISTORY = (
    (0, "ousg", "simulated", 100.0),
    (1, "ousg", "simulated", 100.5),
    (1, "buidl", "simulated", NAN),
    (0, "buidl", "simulated", 1.0),
)


def day(n: int) -> dict[str, Any]:
    ts = dt.datetime(2026, 2, 20, tzinfo=dt.UTC) + dt.timedelta(days=n)
    return {"ts": ts, "date": ts.date()}


def nav(n: int, value: float | None, asset_id: str = "ousg", source: str = "simulated") -> dict:
    return day(n) | {"nav_usd": value, "asset_id": asset_id, "source": source}


ONCHAIN_EDGES = (
    nav(1, 130.0),  # replaces history's day 1: compared with day 0 (100): +30%
    nav(2, 131.0),
    nav(3, None),
    nav(4, 170.0),  # previous present NAV is day 2's
    nav(5, 170.0),
    nav(5, 100.0),  # same key twice: batch order decides which is previous
    nav(2, 1.0, "buidl"),  # history's NaN of day 1 is skipped: day 0 (1.0) is previous
    nav(3, 0.0, "buidl"),
    nav(4, 0.0, "buidl"),  # 0/0: NaN, not counted
    nav(5, 5.0, "buidl"),  # 5/0: infinite
    nav(2, NAN, "ousg", "defillama"),
    nav(3, 50.0, "ousg", "defillama"),
    nav(4, 62.5, "ousg", "defillama"),  # exactly +25%
    nav(6, 78.2, "ousg", "defillama"),
    nav(7, INF, "ousg", "defillama"),
    nav(8, 1.0, "ousg", "defillama"),  # 1/inf - 1
    nav(3, -1.0, "usyc"),
    nav(4, 1.0, "usyc"),
    nav(2, 1.0, None) | {"holders": -1, "tvl_usd": NAN},
    {"holders": None, "transfer_count": 0, "transfer_volume_usd": -INF, "nav_usd": None},
    {"ts": None, "source": None, "total_supply": -0.0, "nav_usd": None},
    {"ts": FETCHED + SKEW + MICRO, "nav_usd": None},
)


def test_onchain_edges_agree_with_gx_across_silver_history(gates, spark):
    history = silver_rows("onchain", *(nav(n, v, a, s) for n, a, s, v in ONCHAIN_HISTORY))
    write_deltalake(gates.onchain_uri, history, partition_by=["date"], mode="overwrite")
    got = assert_agree(gates, spark, "onchain", silver_rows("onchain", *tagged(*ONCHAIN_EDGES)))
    jumps = [r for r in got.reasons.values() if r and "nav_usd must change" in r]
    assert len(jumps) >= 5


ECONOMIC_EDGES = (
    {},
    {"value": None},
    {"value": NAN},
    {"value": INF, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": -INF, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": 1.7976931348623157e308, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": 450.0, "series_id": "FP.CPI.TOTL.ZG"},
    {"value": 50.0},
    {"value": math.nextafter(50.0, 51)},
    {"value": -5.0, "series_id": "DTB3"},
    {"value": -5.1, "series_id": "DFF"},
    {"value": 80.0, "series_id": None},
    {"observation_date": dt.date(2026, 3, 2)},
    {"observation_date": dt.date(2026, 3, 3)},
    {"fetched_at": None, "observation_date": dt.date(2030, 1, 1)},
    {"fetched_at": dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt.UTC)},
    {"region": None, "observation_date": None},
)


def test_economic_edges_agree_with_gx(gates, spark):
    assert_agree(gates, spark, "economic", silver_rows("economic", *tagged(*ECONOMIC_EDGES)))


NEWS_EDGES = (
    {},
    {"url": None},
    {"url": "", "outlet": None},
    {"url": "  ", "outlet": "\u00a0"},
    {"url": "\u2003", "outlet": "Example"},
    {"url": None, "outlet": "\x1c"},
    {"title": "   "},
    {"title": "\t\n"},
    {"title": "\u3000"},
    {"title": "\x1c\x1f"},
    {"title": "\u200b"},  # a zero-width space is not whitespace to Python
    {"title": ""},
    {"title": None},
    {"title": " a "},
    {"published_at": FETCHED + SKEW},
    {"published_at": FETCHED + SKEW + MICRO},
    {"published_at": None},
    {"published_at": dt.datetime(1998, 1, 1, tzinfo=dt.UTC)},
)


def test_news_edges_agree_with_gx(gates, spark):
    assert_agree(gates, spark, "news", silver_rows("news", *tagged(*NEWS_EDGES)))


TRANSFER_EDGES = (
    {},
    {"block_number": -1},
    {"block_number": 0},
    {"block_number": None},
    {"block_ts": None},
    {"block_ts": EARLIEST_TS - MICRO},
    {"block_ts": FETCHED + SKEW + MICRO},
    {"chain": None, "log_index": None, "contract_address": None},
)


def test_transfers_edges_agree_with_gx(gates, spark):
    assert_agree(gates, spark, "transfers", silver_rows("transfers", *tagged(*TRANSFER_EDGES)))


def test_every_suite_is_covered_by_an_edge_test():
    assert set(SUITES) == {"prices", "onchain", "economic", "news", "transfers"}


PRICE_VALUES = st.sampled_from([None, NAN, INF, -INF, 0.0, -0.0, 0.5, 1.5, 95.0, 100.0, 110.0])


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {c: PRICE_VALUES for c in ("open", "high", "low", "close", "volume")}
            | {"asset_id": st.sampled_from(["btc", "usdc", None])}
        ),
        min_size=1,
        max_size=25,
    )
)
def test_random_price_rows_agree_with_gx(gates, spark, rows):
    assert_agree(gates, spark, "prices", silver_rows("prices", *tagged(*rows)))


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
