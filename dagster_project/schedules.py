"""Schedules (all UTC; started from the UI or ``dagster schedule start``):

* HTTP sources hourly; the simulated source's daily fetch just after midnight;
* silver every five minutes on today's fetch day;
* the daily refresh (silver, gold, forecasts, sentiment, risk, serving) of yesterday's fetch
  day, once it is complete;
* the weekly retraining of the forecasting models (orders re-chosen), Sundays 02:00 UTC; a
  sensor (``forecast_accuracy_sensor``) also retrains when live accuracy degrades.
"""

import datetime as dt

import dagster as dg
from dagster import ScheduleEvaluationContext

from dagster_project import jobs


def _fetch_day(context: dg.ScheduleEvaluationContext, days_back: int) -> str:
    scheduled = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    return (scheduled.astimezone(dt.UTC).date() - dt.timedelta(days=days_back)).isoformat()


@dg.schedule(cron_schedule="5 * * * *", job_name=jobs.SOURCE_INGEST, execution_timezone="UTC")
def hourly_source_ingest() -> dg.RunRequest:
    return dg.RunRequest()


@dg.schedule(cron_schedule="15 0 * * *", job_name=jobs.SIMULATED_INGEST, execution_timezone="UTC")
def daily_simulated_ingest(context: ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(partition_key=_fetch_day(context, 0))


@dg.schedule(cron_schedule="*/5 * * * *", job_name=jobs.SILVER, execution_timezone="UTC")
def silver_every_five_minutes(context: ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(partition_key=_fetch_day(context, 0))


@dg.schedule(cron_schedule="30 0 * * *", job_name=jobs.DAILY, execution_timezone="UTC")
def daily_refresh(context: ScheduleEvaluationContext) -> dg.RunRequest:
    day = _fetch_day(context, 1)
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day)


@dg.schedule(cron_schedule="0 2 * * 0", job_name=jobs.RETRAIN, execution_timezone="UTC")
def weekly_model_retraining(context: ScheduleEvaluationContext) -> dg.RunRequest:
    day = _fetch_day(context, 1)
    return dg.RunRequest(
        run_key=f"retrain-{day}", partition_key=day, run_config=jobs.RESELECT_CONFIG
    )


SCHEDULES = [
    hourly_source_ingest,
    daily_simulated_ingest,
    silver_every_five_minutes,
    daily_refresh,
    weekly_model_retraining,
]
