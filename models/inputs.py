"""How the models read their inputs from gold: a few columns of a table, optionally only a
window of days, as pandas (the tables they read are small: one row per asset and day)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths


def gold_frame(
    lake: DeltaLake,
    paths: LakePaths,
    table: str,
    columns: list[str],
    after: dt.date | None = None,
    through: dt.date | None = None,
) -> pd.DataFrame | None:
    """``asset_id``, ``date`` and ``columns`` of ``gold/<table>`` with ``after < date <=
    through`` (either bound optional), ordered by date; None while the table is not built."""
    uri = paths.gold(table)
    if not lake.exists(uri):
        return None
    frame = lake.to_arrow(uri, columns=["asset_id", "date", *columns]).to_pandas()
    if after is not None:
        frame = frame[frame["date"] > after]
    if through is not None:
        frame = frame[frame["date"] <= through]
    return frame.sort_values(["date", "asset_id"], kind="stable")
