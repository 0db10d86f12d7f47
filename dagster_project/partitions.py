"""Daily partitions of the time-based assets, keyed by **fetch day** (UTC).

Bronze is laid out by the day a response was fetched, so a partition is one fetch day: the
simulated source's partition D holds the daily fetch made just after midnight on D (the data of
D - 1); silver's partition D reprocesses every bronze object fetched on D; gold's partition D
rebuilds the days those silver rows are about through the latest day. Today's partition exists
(``end_offset=1``): the frequent silver runs keep it current.
"""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

import dagster as dg

from pipelines.steps import DayRange


def fetch_day_partitions(start: dt.date) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1)


def partition_days(context: dg.AssetExecutionContext) -> DayRange:
    """The fetch days of this run: one partition, or a range in a single-run backfill."""
    window = context.partition_time_window
    return DayRange(window.start.date(), (window.end - dt.timedelta(days=1)).date())


#: Backfills of a range run once over the whole range (one Spark pass, one gold rebuild).
SINGLE_RUN = dg.BackfillPolicy.single_run()


class FetchDayOptions(TypedDict):
    partitions_def: dg.PartitionsDefinition
    backfill_policy: dg.BackfillPolicy
    freshness_policy: dg.FreshnessPolicy


def fetch_day_asset(
    partitions: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy
) -> FetchDayOptions:
    """The ``@asset`` options every fetch-day asset shares: its partitions, single-run
    backfills and the freshness policy of its layer."""
    return FetchDayOptions(
        partitions_def=partitions, backfill_policy=SINGLE_RUN, freshness_policy=freshness
    )
