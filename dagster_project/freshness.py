"""How fresh each layer must be, as Dagster freshness policies (evaluated by Dagster itself:
an asset not materialized within its window turns to warning, then failed, in the UI).

The windows follow the schedules: HTTP sources hourly, silver every five minutes, the simulated
source and the gold/serving refresh daily.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

SOURCES = dg.FreshnessPolicy.time_window(
    warn_window=dt.timedelta(hours=2), fail_window=dt.timedelta(hours=6)
)
SILVER = dg.FreshnessPolicy.time_window(
    warn_window=dt.timedelta(minutes=30), fail_window=dt.timedelta(hours=2)
)
DAILY = dg.FreshnessPolicy.time_window(
    warn_window=dt.timedelta(hours=26), fail_window=dt.timedelta(hours=48)
)
