"""Runs of the asset graph, in process, on simulated data against the local services: the
whole graph for a fetch day (into TimescaleDB), a batch of mostly broken objects stopped by the
blocking check, a lone broken object quarantined with a warning, and a backfill of two
partitions (run out of order) equal to one run over the same days."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from dagster_project import jobs
from dagster_project.definitions import build_definitions
from pipelines.contracts.gold import GOLD_TABLES
from pipelines.core.settings import Settings, get_settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.serving import open_store
from pipelines.silver.registry import SILVER_DATASETS
from tests.fixtures.http_replay import ReplayServer, Reply
from tests.fixtures.lake import assert_same_tables, lake_settings, lake_snapshot
from tests.pipelines.silver.bronze_factory import land_lines

pytestmark = pytest.mark.usefixtures("spark")

DAY = dt.date(2026, 3, 2)
RANGE = ("2026-03-02", "2026-03-03")


def run(settings: Settings, **kwargs: object) -> dg.ExecuteInProcessResult:
    """The ``lakehouse`` job (simulated bronze -> silver -> gold -> serving) of ``settings``'
    definitions, on an ephemeral Dagster instance."""
    definitions = build_definitions(settings)
    job = definitions.resolve_job_def(jobs.LAKEHOUSE)
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), **kwargs)  # type: ignore[arg-type]


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }


def test_the_whole_graph_materializes_into_timescaledb(
    tmp_path: Path, fresh_timescale_dsn: str
) -> None:
    settings = lake_settings(
        tmp_path, deployment="ci", serving_backend="timescaledb", timescale_dsn=fresh_timescale_dsn
    )

    result = run(settings, partition_key=DAY.isoformat())

    assert result.success
    expected = {"bronze/simulated", "serving/store"}
    expected |= {f"ml/{name}" for name in ("forecasts", "sentiment", "risk_scores", "signals")}
    expected |= {f"silver/{d}" for d in ("prices", "onchain", "economic", "news", "transfers")}
    expected |= {f"gold/{table.name}" for table in GOLD_TABLES}
    assert materialized(result) == expected
    verdicts = checks(result)
    gates = {name: ok for name, ok in verdicts.items() if name.endswith(":quality_gate")}
    assert len(gates) == len(SILVER_DATASETS) and all(gates.values()), verdicts
    assert verdicts["ml/risk_scores:every_asset_scored"] is True
    assert verdicts["ml/sentiment:every_day_scored"] is True
    # March's simulated data is months old: Great Expectations' freshness warns, as it should
    assert verdicts["silver/prices:freshness"] is False
    silver = result.asset_materializations_for_node("silver__prices")[0].metadata
    assert silver["records_in"].value > 0 and silver["delta_version"].value >= 0
    serving = result.asset_materializations_for_node("serving__store")[0].metadata
    assert serving["backend"].value == "timescaledb"
    with open_store(settings.serving) as store:
        counts = store.table_counts()
    assert counts["ohlcv_1h"] == DeltaLake(settings.lake, settings.spark).count_rows(
        LakePaths(settings.lake).gold("ohlcv_1h")
    )
    assert counts["ohlcv_1d"] > 0 and counts["economic_indicators"] > 0
    assert counts["risk_scores"] == 27


def junk_object(settings: Settings, name: str) -> str:
    """A broken feed: 200 lines that are not envelopes in the fetch day's price bronze."""
    junk = [f"<html>502 Bad Gateway {n}</html>" for n in range(200)]
    return land_lines(Path(settings.lake.root), junk, day=DAY.isoformat(), name=name)


def evaluation(
    result: dg.ExecuteInProcessResult, asset: str, check: str
) -> dg.AssetCheckEvaluation:
    return next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == check and e.asset_key.to_user_string() == asset
    )


def test_most_objects_broken_fail_the_blocking_check_and_stop_downstream(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    broken = [junk_object(settings, f"junk-{n}.jsonl") for n in range(3)]

    result = run(settings, partition_key=DAY.isoformat(), raise_on_error=False)

    assert not result.success
    verdicts = checks(result)
    assert verdicts["silver/prices:quality_gate"] is False
    assert verdicts["silver/prices:quarantined_objects"] is False
    assert verdicts["silver/news:quality_gate"] is True
    assert verdicts["silver/news:quarantined_objects"] is True
    done = materialized(result)
    assert "silver/prices" in done and "silver/onchain" in done
    assert not any(key.startswith(("gold/", "ml/", "serving/")) for key in done), done
    gate = evaluation(result, "silver/prices", "quality_gate")
    assert "3 of the batch's 4 bronze objects are broken" in gate.metadata["refused_batch"].value
    objects = evaluation(result, "silver/prices", "quarantined_objects")
    assert objects.metadata["waiting"].value == 3
    assert all(name in str(objects.description) for name in broken)
    # nothing of the refused batch was merged; its refusals are in quarantine
    paths = LakePaths(settings.lake)
    assert not DeltaLake(settings.lake, settings.spark).exists(paths.silver("prices"))
    assert DeltaLake(settings.lake, settings.spark).count_rows(paths.quarantine) >= 600


def test_a_lone_broken_object_warns_while_the_rest_lands(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    broken = junk_object(settings, "junk.jsonl")
    definitions = build_definitions(settings)

    result = dg.materialize(
        [
            definitions.resolve_assets_def(dg.AssetKey(["bronze", "simulated"])),
            definitions.resolve_assets_def(dg.AssetKey(["silver", "prices"])),
        ],
        partition_key=DAY.isoformat(),
    )

    assert result.success
    verdicts = checks(result)
    assert verdicts["silver/prices:quality_gate"] is True
    assert verdicts["silver/prices:quarantined_objects"] is False
    objects = evaluation(result, "silver/prices", "quarantined_objects")
    assert objects.severity == dg.AssetCheckSeverity.WARN
    assert f"{broken} (quarantined)" in str(objects.description)
    assert "line is not a JSON object (200)" in str(objects.metadata["objects"].value)
    metadata = result.asset_materializations_for_node("silver__prices")[0].metadata
    assert metadata["objects_quarantined_whole"].value == 1
    assert (
        DeltaLake(settings.lake, settings.spark).count_rows(
            LakePaths(settings.lake).silver("prices")
        )
        > 0
    )


def test_partitions_equal_one_run_over_the_same_days(tmp_path: Path) -> None:
    # Two days are enough to show order does not matter and ranges merge; each whole-graph
    # run costs ~28 s of the suite's budget.
    one_by_one = lake_settings(tmp_path / "partitions")
    for day in ("2026-03-03", "2026-03-02"):  # out of order, as backfills run
        assert run(one_by_one, partition_key=day).success

    single = lake_settings(tmp_path / "range")
    result = run(
        single,
        tags={
            "dagster/asset_partition_range_start": RANGE[0],
            "dagster/asset_partition_range_end": RANGE[1],
        },
    )

    assert result.success
    metadata = result.asset_materializations_for_node("silver__prices")[0].metadata
    assert metadata["fetch_days"].value == f"{RANGE[0]}..{RANGE[1]}"
    assert_same_tables(lake_snapshot(one_by_one), lake_snapshot(single))
    shutil.rmtree(tmp_path)


def test_an_http_source_asset_lands_bronze_that_silver_reads(
    tmp_path: Path, replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bronze/fred`` against a local server replaying FRED's documented answers, then the
    ``silver/economic`` partition of today's fetch day."""
    path = "/fred/series/observations"
    replay_server.script(path, [Reply.fixture("fred/observations_empty.json")])
    replay_server.script(
        path, [Reply.fixture("fred/observations_dtb3.json")], query={"series_id": "DTB3"}
    )
    monkeypatch.setenv("RWA_FRED_BASE_URL", replay_server.url)
    monkeypatch.setenv("RWA_FRED_API_KEY", "replay-key")
    get_settings.cache_clear()
    try:
        settings = lake_settings(tmp_path)
        definitions = build_definitions(settings)
        bronze = dg.materialize(
            [definitions.resolve_assets_def(dg.AssetKey(["bronze", "fred"]))],
        )
        metadata = bronze.asset_materializations_for_node("bronze__fred")[0].metadata
        assert metadata["envelopes_delivered"].value == 4  # one answer per FRED series
        assert metadata["bus"].value == "direct"

        today = dt.datetime.now(dt.UTC).date().isoformat()
        silver = dg.materialize(
            [definitions.resolve_assets_def(dg.AssetKey(["silver", "economic"]))],
            partition_key=today,
        )
    finally:
        get_settings.cache_clear()
    assert silver.success
    rows = (
        DeltaLake(settings.lake, settings.spark)
        .to_arrow(LakePaths(settings.lake).silver("economic"))
        .to_pylist()
    )
    assert {r["series_id"] for r in rows} == {"DTB3"} and {r["source"] for r in rows} == {"fred"}
    assert replay_server.requests_to(path)[0].query["api_key"] == "replay-key"
