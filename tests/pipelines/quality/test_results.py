"""Results land in silver/quality_results (real Delta table), replays do not duplicate, the
latest run is what ``rwa quality`` shows; whole-table checks: uniqueness, freshness."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from pipelines.contracts.silver import QUALITY_RESULTS
from pipelines.core.errors import NotFoundError
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.quality.gate import QualityGate
from pipelines.quality.results import format_results, latest_results
from pipelines.quality.suites import PRICES
from tests.fixtures.lake import lake_of
from tests.pipelines.quality.silver_rows import silver_rows


def stored(settings: Settings) -> pa.Table:
    return DeltaLake(settings.lake, settings.spark).to_arrow(
        LakePaths(settings.lake).quality_results
    )


def test_every_expectation_of_a_batch_is_stored_with_its_outcome(gate, settings):
    rows = silver_rows("prices", {}, {"high": 104.0}, {"volume": None})
    outcome = gate.check("prices", rows, batch_id=7, run_id="run-1")
    table = stored(settings)
    assert table.schema.names == QUALITY_RESULTS.schema.names
    assert table.num_rows == len(PRICES.checks) == len(outcome.results)
    failed = table.filter(pa.compute.invert(table["success"])).to_pylist()
    assert [(r["rule"], r["unexpected_count"], r["element_count"]) for r in failed] == [
        ("high must be >= close", 1, 3)
    ]
    (row,) = failed
    assert (row["dataset"], row["batch_id"], row["run_id"], row["severity"]) == (
        "prices",
        7,
        "run-1",
        "error",
    )
    assert row["columns"] == "high,close"
    assert row["observed_value"] == "[[104.0, 105.0]]"
    assert row["suite"] == "silver.prices"


def test_a_replayed_batch_updates_its_results_instead_of_adding_rows(gate, settings):
    rows = silver_rows("prices", {}, {"high": 104.0})
    gate.check("prices", rows, batch_id=3, run_id="run-1")
    gate.check("prices", rows, batch_id=3, run_id="run-2")  # the replay after a crash
    table = stored(settings)
    assert table.num_rows == len(PRICES.checks)
    assert set(table["run_id"].to_pylist()) == {"run-2"}
    gate.check("prices", rows, batch_id=4, run_id="run-2")
    assert stored(settings).num_rows == 2 * len(PRICES.checks)


def test_latest_results_shows_the_newest_run_of_each_dataset(gate, settings):
    gate.check("prices", silver_rows("prices", {}), batch_id=0, run_id="old")
    gate.check("prices", silver_rows("prices", {"close": None}), batch_id=1, run_id="new")
    gate.check("news", silver_rows("news", {}), batch_id=0, run_id="news-run")
    latest = latest_results(*lake_of(settings))
    assert set(zip(latest["dataset"].to_pylist(), latest["run_id"].to_pylist(), strict=True)) == {
        ("prices", "new"),
        ("news", "news-run"),
    }
    only_news = latest_results(*lake_of(settings), "news")
    assert set(only_news["dataset"].to_pylist()) == {"news"}
    text = format_results(latest)
    assert "FAILED" in text and "close must not be null" in text
    assert text.splitlines()[-1] == f"{latest.num_rows} results, 1 failed"


def test_no_results_yet(settings):
    assert latest_results(*lake_of(settings)).num_rows == 0
    assert format_results(latest_results(*lake_of(settings))) == "no quality results yet"


# --- whole-table checks ---------------------------------------------------------------------
def write_silver_prices(settings: Settings, *changes: dict) -> str:
    uri = LakePaths(settings.lake).silver("prices")
    write_deltalake(uri, silver_rows("prices", *changes), partition_by=["date"])
    return uri


def by_expectation(results: list) -> dict:
    return {r.expectation: r for r in results}


def test_key_uniqueness_fails_on_duplicate_keys(gate, settings):
    later = {"ts": dt.datetime(2026, 3, 1, 13, tzinfo=dt.UTC)}
    uri = write_silver_prices(settings, {}, {}, later)
    results = by_expectation(gate.check_table("prices", uri, run_id="r"))
    unique = results["expect_compound_columns_to_be_unique"]
    assert (unique.success, unique.unexpected_count, unique.severity) == (False, 2, "error")
    assert unique.batch_id is None


def test_unique_keys_pass(gate, settings):
    uri = write_silver_prices(settings, {}, {"asset_id": "eth"})
    results = by_expectation(gate.check_table("prices", uri, run_id="r"))
    assert results["expect_compound_columns_to_be_unique"].success


def test_freshness_is_a_warning_that_fails_on_stale_data_and_passes_on_fresh(settings, lake):
    uri = write_silver_prices(settings, {})  # newest ts 2026-03-01 12:00 UTC
    checked_at = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)

    def gate_at(hours: float) -> QualityGate:
        paths = LakePaths(settings.lake)
        return QualityGate(
            lake,
            results_uri=paths.quality_results,
            onchain_uri=paths.silver("onchain"),
            freshness_hours=hours,
            clock=lambda: checked_at,
        )

    stale = by_expectation(gate_at(12).check_table("prices", uri, run_id="a"))
    fresh = by_expectation(gate_at(36).check_table("prices", uri, run_id="b"))
    for result in (stale, fresh):
        assert result["expect_column_max_to_be_between"].severity == "warning"
    assert not stale["expect_column_max_to_be_between"].success
    assert fresh["expect_column_max_to_be_between"].success
    assert "2026-03-01" in (stale["expect_column_max_to_be_between"].observed_value or "")
    stored_rows = stored(settings).filter(pa.compute.is_null(stored(settings)["batch_id"]))
    assert stored_rows.num_rows == 4  # two checks, two runs


def test_freshness_of_a_date_column(gate, settings):
    uri = LakePaths(settings.lake).silver("economic")
    write_deltalake(uri, silver_rows("economic", {}), partition_by=["year"])
    results = by_expectation(gate.check_table("economic", uri, run_id="r"))
    assert results["expect_compound_columns_to_be_unique"].success
    assert not results["expect_column_max_to_be_between"].success  # 2026-03-01 is long ago


def test_checking_a_missing_table_names_it(gate, settings):
    with pytest.raises(NotFoundError, match="no Delta table"):
        gate.check_table("prices", LakePaths(settings.lake).silver("prices"), run_id="r")
