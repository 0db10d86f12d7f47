"""The definitions as Dagster loads them: its own validation command, the asset graph and its
lineage, checks, partitions, resources per deployment, and the UI answering over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import dagster as dg
import httpx
import pytest

from dagster_project.definitions import build_definitions
from dagster_project.resources import resources_for
from pipelines.core.errors import ConfigurationError
from pipelines.core.settings import Settings
from tests.fixtures.processes import free_port, running

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(list(path))


@pytest.fixture(scope="module")
def graph() -> dg.Definitions:
    return build_definitions(Settings())


def test_dagster_validates_the_definitions(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "dagster_project"],
        cwd=REPO,
        env=os.environ | {"DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "All code locations passed validation" in done.stdout + done.stderr


def test_every_layer_is_an_asset_group_with_the_real_lineage(graph: dg.Definitions) -> None:
    repo = graph.get_repository_def()
    groups = {k: repo.asset_graph.get(k).group_name for k in repo.asset_graph.get_all_asset_keys()}
    assert groups[key("bronze", "simulated")] == "bronze"
    assert {k for k, g in groups.items() if g == "bronze"} >= {
        key("bronze", s) for s in ("coingecko", "defillama", "fred", "worldbank", "newsapi", "news")
    }
    assert {k for k, g in groups.items() if g == "silver"} == {
        key("silver", d) for d in ("prices", "onchain", "transfers", "economic", "news")
    }
    assert len([k for k, g in groups.items() if g == "gold"]) == 9
    assert groups[key("serving", "store")] == "serving"
    assert groups[key("ml", "risk_scores")] == "ml"

    def parents(*path: str) -> set[dg.AssetKey]:
        return set(repo.asset_graph.get(key(*path)).parent_keys)

    assert parents("silver", "prices") == {key("bronze", "simulated"), key("bronze", "coingecko")}
    assert parents("silver", "economic") == {
        key("bronze", s) for s in ("simulated", "fred", "worldbank")
    }
    assert parents("gold", "features_daily") == {key("gold", "ohlcv_1d"), key("silver", "prices")}
    assert parents("gold", "macro_asof") == {key("silver", "economic"), key("gold", "ohlcv_1d")}
    assert key("gold", "sentiment_daily") in parents("serving", "store")
    assert key("gold", "market_daily") in parents("serving", "store")
    assert parents("gold", "market_daily") == {
        key("gold", "ohlcv_1d"),
        key("gold", "onchain_daily"),
        key("gold", "macro_asof"),
    }
    assert key("ml", "risk_scores") in parents("serving", "store")
    assert key("ml", "sentiment") in parents("serving", "store")
    assert key("ml", "forecasts") in parents("serving", "store")
    assert key("ml", "signals") in parents("serving", "store")
    assert parents("ml", "signals") == {
        key("gold", "ohlcv_1d"),
        key("ml", "forecasts"),
        key("ml", "sentiment"),
    }
    assert parents("ml", "forecasts") == {key("gold", "ohlcv_1d")}
    assert parents("ml", "sentiment") == {key("gold", "sentiment_daily"), key("silver", "news")}
    assert key("gold", "features_daily") in parents("ml", "risk_scores")


def test_silver_quality_checks_are_blocking_and_every_asset_has_a_freshness_policy(
    graph: dg.Definitions,
) -> None:
    repo = graph.get_repository_def()
    specs = {
        (spec.asset_key, spec.name): spec
        for assets_def in repo.assets_defs_by_key.values()
        for spec in assets_def.check_specs
    }
    for dataset in ("prices", "onchain", "economic", "news", "transfers"):
        assert specs[(key("silver", dataset), "quality_gate")].blocking
        assert not specs[(key("silver", dataset), "freshness")].blocking
        assert not specs[(key("silver", dataset), "quarantined_objects")].blocking
    windows = {
        k: repo.asset_graph.get(k).freshness_policy for k in repo.asset_graph.get_all_asset_keys()
    }
    assert all(policy is not None for policy in windows.values())
    silver, gold = windows[key("silver", "prices")], windows[key("gold", "ohlcv_1d")]
    assert silver is not None and gold is not None
    assert silver.fail_window.to_timedelta() < gold.fail_window.to_timedelta()  # type: ignore[attr-defined]


def test_time_based_layers_are_partitioned_by_fetch_day(graph: dg.Definitions) -> None:
    repo = graph.get_repository_def()
    partitioned = {
        k
        for k in repo.asset_graph.get_all_asset_keys()
        if repo.asset_graph.get(k).partitions_def is not None
    }
    assert partitioned >= {
        key("bronze", "simulated"),
        key("silver", "prices"),
        key("serving", "store"),
    }
    assert key("bronze", "coingecko") not in partitioned
    daily = repo.asset_graph.get(key("silver", "news")).partitions_def
    assert isinstance(daily, dg.DailyPartitionsDefinition)
    assert daily.get_first_partition_key() == "2024-01-01"


def test_schedules_and_sensors(graph: dg.Definitions) -> None:
    repo = graph.get_repository_def()
    crons = {s.name: s.cron_schedule for s in repo.schedule_defs}
    assert crons == {
        "hourly_source_ingest": "5 * * * *",
        "daily_simulated_ingest": "15 0 * * *",
        "silver_every_five_minutes": "*/5 * * * *",
        "daily_refresh": "30 0 * * *",
        "weekly_model_retraining": "0 2 * * 0",
    }
    sensors = {s.name for s in repo.sensor_defs}
    assert sensors == {"bronze_objects_sensor", "forecast_accuracy_sensor", "alert_on_run_failure"}


def test_resources_follow_the_deployment(tmp_path: Path) -> None:
    local = resources_for(Settings(lake_root=str(tmp_path)))
    assert local["serving"].backend == "duckdb" and not local["kafka"].publish
    assert resources_for(Settings(deployment="ci"))["serving"].backend == "timescaledb"
    production = resources_for(Settings(deployment="production", lake_root="s3://lake/rwa"))
    assert production["kafka"].publish and production["serving"].backend == "timescaledb"
    with pytest.raises(ConfigurationError, match="RWA_DEPLOYMENT=production needs an S3 lake"):
        resources_for(Settings(deployment="production", lake_root=str(tmp_path)))


#: The webserver's own limit for starting its code server (Dagster's default is 180 s): on a
#: loaded machine importing the definitions can take longer, and a slow start is not a failure.
CODE_SERVER_STARTUP_LIMIT_S = 600

LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


def code_location_loaded(client: httpx.Client) -> bool:
    """True once the webserver reports its code location loaded; a load error fails at once."""
    answer = client.post("/graphql", json={"query": LOCATION_STATUS}, timeout=10).json()
    entries = answer["data"]["workspaceOrError"]["locationEntries"]
    for entry in entries:
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            pytest.fail(f"code location {entry['name']} failed to load: {loaded['message']}")
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def test_the_ui_starts_on_loopback_and_answers(tmp_path: Path) -> None:
    port = free_port()
    command = [
        str(BIN / "dagster-webserver"),
        "-m",
        "dagster_project",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    (tmp_path / "dagster.yaml").write_text(
        f"code_servers:\n  local_startup_timeout: {CODE_SERVER_STARTUP_LIMIT_S}\n"
    )
    env = os.environ | {"DAGSTER_HOME": str(tmp_path)}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        ready = partial(code_location_loaded, client)
        with running(command, port, tmp_path / "webserver.log", env=env, cwd=REPO, ready=ready):
            assert client.get("/server_info").status_code == 200
            query = "{ assetNodes { assetKey { path } groupName } }"
            nodes = client.post("/graphql", json={"query": query}).json()["data"]["assetNodes"]
            paths = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
            assert paths["silver/prices"] == "silver"
            assert paths["gold/ohlcv_1d"] == "gold"
