"""The derived columns of :mod:`pipelines.quality.derived`, as DuckDB SQL.

Same values as the pandas versions the GX gate uses and the Spark versions
(:mod:`pipelines.quality.spark_derived`): row-local columns are expressions of one projection;
the previous NAV is a window over the batch and the small silver history Arrow table
(:func:`pipelines.quality.derived.read_nav_history`), joined back by row position so the
batch keeps its order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import duckdb
import pyarrow as pa

from pipelines.ingestion.sql_records import identifier, map_lookup
from pipelines.quality.derived import NAV_COLUMNS
from pipelines.quality.duck_rules import has_text
from pipelines.quality.suites import CLOCK_SKEW, DatasetSuite

_NAV_SERIES = ("asset_id", "source")
#: Helper columns of the NAV window (absent from the returned relation).
_POSITION, _NAV, _PREVIOUS, _CHANGE = (
    "_quality_position",
    "_quality_nav",
    "_quality_previous",
    "_quality_change",
)


def fetched_at_limit(_: Mapping[str, str]) -> str:
    return f"fetched_at + INTERVAL {int(CLOCK_SKEW.total_seconds())} SECOND"


def fetched_date(_: Mapping[str, str]) -> str:
    """The UTC date of fetched_at, whatever the connection's time zone."""
    return "CAST(timezone('UTC', fetched_at) AS DATE)"


def url_or_outlet(_: Mapping[str, str]) -> str:
    """url, else outlet; text that Python's ``str.strip()`` empties counts as missing."""
    return f"CASE WHEN {has_text('url')} THEN url WHEN {has_text('outlet')} THEN outlet END"


def asset_class(classes: Mapping[str, str]) -> str:
    """The asset's class from the reference data (NULL for an unknown or NULL asset)."""
    return map_lookup(classes, "asset_id")


_ROW_LOCAL: Mapping[str, Callable[[Mapping[str, str]], str]] = {
    "fetched_at_limit": fetched_at_limit,
    "fetched_date": fetched_date,
    "url_or_outlet": url_or_outlet,
    "asset_class": asset_class,
}


def with_derived_columns(
    con: duckdb.DuckDBPyConnection,
    suite: DatasetSuite,
    rows: duckdb.DuckDBPyRelation,
    *,
    asset_classes: Mapping[str, str],
    nav_history: pa.Table | None,
) -> duckdb.DuckDBPyRelation:
    """``rows`` plus the suite's derived columns (the row-local ones in one projection)."""
    local = [
        f"{_ROW_LOCAL[n](asset_classes)} AS {identifier(n)}"
        for n in suite.derived
        if n in _ROW_LOCAL
    ]
    framed = rows.project(", ".join([*map(identifier, rows.columns), *local])) if local else rows
    if "nav_change" in suite.derived:
        framed = with_nav_change(con, framed, nav_history)
    return framed


def with_nav_change(
    con: duckdb.DuckDBPyConnection, rows: duckdb.DuckDBPyRelation, history: pa.Table | None
) -> duckdb.DuckDBPyRelation:
    """``rows`` (in their order) plus ``nav_change``: |nav_usd / previous nav_usd - 1| per
    (asset_id, source), the previous being the series' preceding present NAV in time among the
    batch and ``history`` (a history row of the same (asset_id, source, ts) as a batch row is
    replaced by it). NULL where there is none, or where numpy's arithmetic gives NaN."""
    columns = [identifier(c) for c in rows.columns]
    # row_number() OVER () numbers the rows in their scan order.
    positioned = rows.project(f"{', '.join(columns)}, row_number() OVER () AS {_POSITION}")
    series_columns = f"asset_id, source, ts, CAST(nav_usd AS DOUBLE) AS {_NAV}"
    series = positioned.project(f"{series_columns}, {_POSITION}")
    if history is not None:
        earlier = con.from_arrow(history.select(list(NAV_COLUMNS))).set_alias("h")
        keys = positioned.project("asset_id, source, ts").set_alias("b")
        same_key = " AND ".join(f"h.{c} = b.{c}" for c in (*_NAV_SERIES, "ts"))
        kept = earlier.join(keys, same_key, how="anti")
        series = series.union(kept.project(f"{series_columns}, CAST(-1 AS BIGINT)"))
    present = series.project(
        f"asset_id, source, ts, {_POSITION}, CASE WHEN NOT isnan({_NAV}) THEN {_NAV} END AS {_NAV}"
    )
    window = (
        f"PARTITION BY asset_id, source ORDER BY ts ASC NULLS LAST, {_POSITION} "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    )
    previous = present.project(
        f"{_POSITION}, {_NAV}, last_value({_NAV} IGNORE NULLS) OVER ({window}) AS {_PREVIOUS}"
    ).filter(f"{_POSITION} > 0")
    # numpy: x/0 is infinite, 0/0 NaN (spelled out: DuckDB's division can be set otherwise).
    change = previous.project(
        f"{_POSITION}, CASE WHEN {_PREVIOUS} = 0 "
        f"THEN CASE WHEN {_NAV} <> 0 THEN CAST('inf' AS DOUBLE) END "
        f"ELSE abs({_NAV} / {_PREVIOUS} - 1) END AS {_CHANGE}"
    )
    changes = change.project(
        f"{_POSITION}, CASE WHEN NOT isnan({_CHANGE}) THEN {_CHANGE} END AS nav_change"
    )
    joined = (
        positioned.set_alias("batch")
        .join(changes.set_alias("changes"), _POSITION, how="left")
        .order(_POSITION)
    )
    return joined.project(", ".join([*columns, "nav_change"]))
