"""The ``alerts/evaluation`` asset: downstream of the serving load in the scheduled jobs, and,
materialized on its own over a served DuckDB store and a SQLite operational database, it
publishes the price updates and records the firings (no Spark, no full-graph run)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
from sqlalchemy import func, select

from api.alerts.tables import AlertFiring
from api.events.tables import Event
from dagster_project import jobs
from dagster_project.assets.serving import ALERTS_KEY, SERVING_KEY, alerts_asset
from dagster_project.definitions import build_definitions
from dagster_project.partitions import fetch_day_partitions
from dagster_project.resources import ServingStoreResource
from pipelines.lakehouse import Lakehouse
from tests.api.alerts.served_alerts import ASSETS, served_with_a_rule
from tests.fixtures.lake import lake_settings


def test_the_evaluation_follows_the_load_in_the_scheduled_jobs(tmp_path: Path) -> None:
    graph = build_definitions(lake_settings(tmp_path))
    repo = graph.get_repository_def()
    node = repo.asset_graph.get(ALERTS_KEY)
    assert SERVING_KEY in node.parent_keys and node.group_name == "alerts"
    for name in (jobs.DAILY, jobs.RETRAIN):
        assert ALERTS_KEY in graph.resolve_job_def(name).asset_layer.executable_asset_keys
    # The whole-graph job (what the run tests execute) stops at the load.
    assert ALERTS_KEY not in graph.resolve_job_def(jobs.LAKEHOUSE).asset_layer.executable_asset_keys


def test_materializing_it_publishes_prices_and_records_firings(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path, ops_db_url=f"sqlite:///{tmp_path / 'ops.db'}")
    database = served_with_a_rule(
        settings.serving.duckdb_path, settings.updated(jwt_key_file=tmp_path / "jwt.key")
    )
    try:
        resource = ServingStoreResource(lakehouse=Lakehouse.from_settings(settings))
        partitions = fetch_day_partitions(dt.date(2026, 3, 1))
        result = dg.materialize(
            [alerts_asset(partitions)], resources={"serving": resource}, partition_key="2026-03-02"
        )
        assert result.success
        metadata = result.asset_materializations_for_node("alerts__evaluation")[0].metadata
        assert (metadata["rules"].value, metadata["fired"].value) == (1, 1)
        assert metadata["price_updates"].value == len(ASSETS)
        assert metadata["portfolio_updates"].value == 0  # nobody holds a portfolio here
        with database.sessions() as session:
            assert session.scalar(select(func.count()).select_from(AlertFiring)) == 1
            types = session.scalars(select(Event.type)).all()
        assert sorted(types) == ["alert_triggered"] + ["price_update"] * len(ASSETS)
    finally:
        database.close()
