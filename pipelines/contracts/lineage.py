"""What a job stamps on the Delta commits it makes, so lineage can name the run that built a row.

A Delta commit keeps free-form metadata beside its operation (``commitInfo``). Every commit of
a gold run carries :data:`RUN_ID` (one id per run, shared by every table it writes),
:data:`JOB` and :data:`DAYS` (``all`` for a full run, ``<first>/<last>`` for a range run): the
newest commit of a gold table whose days hold a row's day is the run that wrote that row.
Commits made before these keys existed carry none; lineage then names the commit alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pipelines.contracts.measures import (
    DERIVED_ONCHAIN_METRICS,
    FEATURE_MEASURES,
    ONCHAIN_METRICS,
)

RUN_ID = "rwa.run_id"
JOB = "rwa.job"
DAYS = "rwa.days"
ALL_DAYS = "all"


def run_metadata(job: str, run_id: str, days: tuple[dt.date, dt.date] | None) -> dict[str, str]:
    """The metadata a run's commits carry (``days`` None: every day)."""
    stamped = ALL_DAYS if days is None else f"{days[0].isoformat()}/{days[1].isoformat()}"
    return {RUN_ID: run_id, JOB: job, DAYS: stamped}


def covers(commit: Mapping[str, Any], day: dt.date) -> bool | None:
    """Whether a commit stamped by :func:`run_metadata` wrote ``day``; None when the commit
    carries no stamp (made before stamping, or by another writer)."""
    stamped = commit.get(DAYS)
    if not isinstance(stamped, str):
        return None
    if stamped == ALL_DAYS:
        return True
    first, _, last = stamped.partition("/")
    return dt.date.fromisoformat(first) <= day <= dt.date.fromisoformat(last)


#: A bar's measures: with a resolution; ``open``/``high``/``low``/``volume`` default to 1d
#: bars, ``close`` without one is the daily feature (the same number as the 1d close).
BAR_MEASURES = ("open", "high", "low", "close", "volume")
#: Model outputs: a prediction (asked by its target date) and a risk score (its calculated_at).
MODEL_MEASURES = ("prediction", "risk_score")
#: Every measure lineage answers for, each once.
LINEAGE_MEASURES: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *BAR_MEASURES,
            *FEATURE_MEASURES,
            *ONCHAIN_METRICS,
            *DERIVED_ONCHAIN_METRICS,
            *MODEL_MEASURES,
        )
    )
)
