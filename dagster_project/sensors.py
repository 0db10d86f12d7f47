"""Sensors: new bronze objects start silver for their fetch day; failed runs raise an alert."""

import json
import re
from collections import Counter
from collections.abc import Iterable

import dagster as dg
from dagster import RunFailureSensorContext, SensorEvaluationContext

from dagster_project import jobs
from dagster_project.resources import AlertsResource, LakeResource, pipeline_settings
from pipelines.bronze.object_store import open_object_store
from pipelines.bronze.writer import BRONZE_PREFIX

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
    context: SensorEvaluationContext, lake: LakeResource
) -> dg.SensorResult | dg.SkipReason:
    """Lists bronze (object keys only) and requests the silver partition of every fetch day
    that gained objects since the last tick; the cursor keeps the count per day."""
    store = open_object_store(pipeline_settings(lake))
    counts = objects_per_fetch_day(store.list(f"{BRONZE_PREFIX}/"))
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


SENSORS = [bronze_objects_sensor, alert_on_run_failure]
