"""Schedules pick the right fetch day, the bronze sensor starts silver for days with new
objects, and a failed run is POSTed to the alert webhook (a real local HTTP server)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from dagster_project.jobs import RESELECT_CONFIG
from dagster_project.resources import AlertsResource, LakehouseResource
from dagster_project.schedules import (
    daily_refresh,
    daily_simulated_ingest,
    silver_every_five_minutes,
    weekly_model_retraining,
)
from dagster_project.sensors import (
    alert_on_run_failure,
    bronze_objects_sensor,
    forecast_accuracy_sensor,
)
from models.forecast.batch import KEYS as PREDICTION_KEYS
from models.forecast.batch import prediction_rows
from models.forecast.forecasters import Forecast
from models.forecast.monitor import live_accuracy
from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from tests.fixtures.http_replay import ReplayServer, Reply
from tests.fixtures.lake import lake_settings
from tests.pipelines.silver.bronze_factory import land_lines

TICK = dt.datetime(2026, 3, 5, 0, 30, tzinfo=dt.UTC)


def partition_of(request: object) -> str | None:
    assert isinstance(request, dg.RunRequest)
    return request.partition_key


def test_schedules_target_the_right_fetch_day() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=TICK)
    assert partition_of(daily_refresh(context)) == "2026-03-04"  # yesterday, complete
    retrain = weekly_model_retraining(context)
    assert partition_of(retrain) == "2026-03-04"
    assert isinstance(retrain, dg.RunRequest) and retrain.run_config == RESELECT_CONFIG
    assert partition_of(silver_every_five_minutes(context)) == "2026-03-05"
    assert partition_of(daily_simulated_ingest(context)) == "2026-03-05"


def sensor_tick(settings: Settings, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    lake = LakehouseResource(lakehouse=Lakehouse.from_settings(settings))
    with dg.build_sensor_context(cursor=cursor, resources={"lake": lake}) as context:
        result = bronze_objects_sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def test_bronze_sensor_requests_silver_for_days_with_new_objects(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path, sim_assets=["btc", "usdc"])
    steps.land_simulated_fetch_days(
        Lakehouse.from_settings(settings), DayRange(dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    )

    first = sensor_tick(settings, None)
    assert isinstance(first, dg.SensorResult) and first.run_requests is not None
    assert [r.partition_key for r in first.run_requests] == ["2026-03-02", "2026-03-03"]
    assert isinstance(sensor_tick(settings, first.cursor), dg.SkipReason)

    land_lines(Path(settings.lake.root), ['{"late": true}'], day="2026-03-03", name="late.jsonl")
    later = sensor_tick(settings, first.cursor)
    assert isinstance(later, dg.SensorResult) and later.run_requests is not None
    assert [r.partition_key for r in later.run_requests] == ["2026-03-03"]
    assert later.run_requests[0].run_key != first.run_requests[1].run_key


@dg.op
def broken_step() -> None:
    raise RuntimeError("the exchange API answered 500 three times")


@dg.job
def broken_job() -> None:
    broken_step()


def test_a_failed_run_is_posted_to_the_alert_webhook(replay_server: ReplayServer) -> None:
    replay_server.script("/hooks/rwa", [Reply(status=200, json={"ok": True})])
    instance = dg.DagsterInstance.ephemeral()
    result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()

    alert_on_run_failure(
        context, alerts=AlertsResource(webhook_url=f"{replay_server.url}/hooks/rwa")
    )

    [posted] = replay_server.requests_to("/hooks/rwa")
    text = json.loads(posted.body)["text"]
    assert f"run {result.run_id} of job broken_job" in text
    assert "failed" in text


def test_an_unreachable_webhook_is_logged_not_raised(replay_server: ReplayServer) -> None:
    replay_server.script("/hooks/rwa", [Reply(status=503)])
    alerts = AlertsResource(webhook_url=f"{replay_server.url}/hooks/rwa")
    assert alerts.notify("gold failed") is False
    assert AlertsResource().notify("no webhook configured") is False


def write_history(settings: Settings, offset: float) -> None:
    """40 days of BTC closes and, for each of the first 30 days, a 7-day forecast that is off
    by ``offset`` (0 = the naive forecast, a good model for a random walk) with tight bands."""
    lake, paths = DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake)
    rng = np.random.default_rng(4)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 40)))
    first = dt.date(2026, 3, 1)
    days = [first + dt.timedelta(days=i) for i in range(40)]
    bars = pa.table({"asset_id": ["btc"] * 40, "date": days, "close": closes})
    lake.merge(bars, paths.gold("ohlcv_1d"), keys=("asset_id", "date"), update_when="true")
    for i in range(30):
        path = np.full(30, closes[i] + offset)
        forecast = Forecast(
            path, {0.8: path * 0.97, 0.95: path * 0.95}, {0.8: path * 1.03, 0.95: path * 1.05}
        )
        generated = dt.datetime.combine(days[i] + dt.timedelta(days=1), dt.time(), dt.UTC)
        rows = prediction_rows("btc", forecast, days[i], generated, "arima-btc@test")
        lake.merge(rows, paths.gold("predictions"), keys=PREDICTION_KEYS, update_when=None)


def test_degraded_live_accuracy_starts_a_retraining(tmp_path: Path) -> None:
    good, bad = lake_settings(tmp_path / "good"), lake_settings(tmp_path / "bad")
    write_history(good, offset=0.0)
    write_history(bad, offset=15.0)

    [fine] = live_accuracy(DeltaLake(good.lake, good.spark), LakePaths(good.lake))
    [off] = live_accuracy(DeltaLake(bad.lake, bad.spark), LakePaths(bad.lake))
    assert fine.points >= 7 and not fine.degraded
    assert off.degraded and off.mae > off.naive_mae

    def tick(settings: Settings) -> dg.RunRequest | dg.SkipReason:
        lake = LakehouseResource(lakehouse=Lakehouse.from_settings(settings))
        with dg.build_sensor_context(resources={"lake": lake}) as context:
            return forecast_accuracy_sensor(context)

    assert isinstance(tick(good), dg.SkipReason)
    request = tick(bad)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config == RESELECT_CONFIG
    assert request.tags["rwa/degraded_assets"] == "btc"
