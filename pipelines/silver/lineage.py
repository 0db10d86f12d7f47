"""Which days the silver rows of some bronze fetches are about, read from their lineage.

Every silver row keeps the bronze object it came from (``bronze_file``, whose ``date=`` folder
is the fetch day). After silver has taken in the objects fetched on some days, the gold days to
rebuild are the days those rows are about (the dataset's ``day_column``), whatever run -- the
stream, a backfill, a Dagster partition -- put them there.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake
from pipelines.silver.spec import DatasetSpec

_FETCH_DAY = r"/date=(?P<day>\d{4}-\d{2}-\d{2})/"


def days_about(lake: DeltaLake, uri: str, spec: DatasetSpec, fetched: DayRange) -> DayRange | None:
    """The range of days the rows of ``uri`` fetched on ``fetched`` are about (None when the
    table is absent or holds none of them). Reads two columns."""
    if not lake.exists(uri):
        return None
    columns = ["bronze_file", spec.day_column]
    rows = lake.to_arrow(uri, columns=columns)
    fetch_day = pc.struct_field(pc.extract_regex(rows["bronze_file"], _FETCH_DAY), "day")
    in_range = pc.and_(
        pc.greater_equal(fetch_day, pa.scalar(fetched.first.isoformat())),
        pc.less_equal(fetch_day, pa.scalar(fetched.last.isoformat())),
    )
    bounds = pc.min_max(rows.filter(pc.fill_null(in_range, False))[spec.day_column])
    first, last = bounds["min"].as_py(), bounds["max"].as_py()
    return None if first is None else DayRange(first, last)
