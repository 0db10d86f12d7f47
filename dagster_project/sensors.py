"""Sensors: new bronze objects start silver for their fetch day; failed runs raise an alert."""

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterable

import dagster as dg
from dagster import RunFailureSensorContext, SensorEvaluationContext

from dagster_project import jobs
from dagster_project.resources import AlertsResource, LakehouseResource
from pipelines import steps

_FETCH_DAY = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/[^/]+\.jsonl$")


def objects_per_fetch_day(keys: Iterable[str]) -> Counter[str]:
    """Bronze objects per fetch day (``date=`` folder) among object ``keys``."""
    days: Counter[str] = Counter()
    for key in keys:
        match = _FETCH_DAY.search(key)
        if match:
            days[match.group(1)] += 1
    return days


def grown_days(now: Counter[str], seen: dict[str, int]) -> list[str]:
    """Fetch days holding more objects than when last seen, oldest first."""
    return sorted(day for day, count in now.items() if count > seen.get(day, 0))


@dg.sensor(job_name=jobs.SILVER, minimum_interval_seconds=60)
def bronze_objects_sensor(
    context: SensorEvaluationContext, lake: LakehouseResource
) -> dg.SensorResult | dg.SkipReason:
    """Lists bronze (object keys only) and requests the silver partition of every fetch day
    that gained objects since the last tick; the cursor keeps the count per day."""
    counts = objects_per_fetch_day(steps.bronze_object_keys(lake.lakehouse))
    seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    days = grown_days(counts, seen)
    if not days:
        return dg.SkipReason("no new bronze objects")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"bronze-{day}-{counts[day]}", partition_key=day) for day in days
        ],
        cursor=json.dumps(dict(counts), sort_keys=True),
    )


@dg.sensor(job_name=jobs.RETRAIN, minimum_interval_seconds=3600)
def forecast_accuracy_sensor(
    context: SensorEvaluationContext, lake: LakehouseResource
) -> dg.RunRequest | dg.SkipReason:
    """Retrain when the live accuracy of the 7-day forecasts has degraded (worse than naive by
    more than the tolerance, or 95% coverage too low; ``models/forecast/monitor.py``). One
    request per day and set of degraded assets."""
    degraded = steps.degraded_forecasts(lake.lakehouse)
    if not degraded:
        return dg.SkipReason("live forecast accuracy is within bounds")
    day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    names = ",".join(a.asset_id for a in degraded)
    context.log.info(f"forecasts degraded for {names}")
    return dg.RunRequest(
        run_key=f"degraded-{day}-{names}",
        partition_key=day,
        run_config=jobs.RESELECT_CONFIG,
        tags={"rwa/degraded_assets": names},
    )


@dg.run_failure_sensor(name="alert_on_run_failure", monitor_all_code_locations=False)
def alert_on_run_failure(context: RunFailureSensorContext, alerts: AlertsResource) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition", "")
    message = (
        f"Dagster run {run.run_id} of job {run.job_name}"
        f"{f' (partition {partition})' if partition else ''} failed: "
        f"{context.failure_event.message or 'see the run logs'}"
    )
    alerts.notify(message)


SENSORS = [bronze_objects_sensor, forecast_accuracy_sensor, alert_on_run_failure]
