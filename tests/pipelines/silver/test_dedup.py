"""In-batch deduplication: the latest fetch of each key wins, ties by ingest_id."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.silver.dedup import is_latest_of_key, is_latest_of_key_sql

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def rows(*records: tuple[str, int, int, str, float, bool]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "asset_id": asset,
                "ts": T0 + dt.timedelta(hours=hour),
                "fetched_at": T0 + dt.timedelta(days=fetch),
                "ingest_id": ingest,
                "close": close,
                "valid": valid,
            }
            for asset, hour, fetch, ingest, close, valid in records
        ]
    )


def batch() -> pa.Table:
    return rows(
        ("btc", 0, 1, "a", 1.0, True),
        ("btc", 0, 2, "b", 2.0, True),  # later fetch
        ("btc", 1, 1, "a", 3.0, True),
        ("btc", 1, 1, "c", 4.0, True),  # same fetch, larger ingest_id
        ("eth", 0, 1, "a", 5.0, True),
        ("btc", 0, 1, "z", 6.0, True),  # larger ingest_id, but an older fetch
        ("eth", 0, 9, "z", 7.0, False),  # the latest fetch, but not among the valid rows
    )


#: close -> whether its row is its key's latest (None: not among the valid rows).
LATEST_BY_CLOSE = {1.0: False, 2.0: True, 3.0: False, 4.0: True, 5.0: True, 6.0: False, 7.0: None}


def test_latest_fetch_then_larger_ingest_id_wins_per_key(spark: SparkSession) -> None:
    flagged = spark.createDataFrame(batch()).withColumn(
        "latest", is_latest_of_key(("asset_id", "ts"), F.col("valid"))
    )
    by_close = {row["close"]: row["latest"] for row in flagged.collect()}
    assert by_close == LATEST_BY_CLOSE


def test_the_duckdb_window_picks_the_same_rows() -> None:
    con = duckdb.connect()
    latest = is_latest_of_key_sql(("asset_id", "ts"), "valid")
    flagged = con.from_arrow(batch()).project(f"close, {latest} AS latest").fetchall()
    assert dict(flagged) == LATEST_BY_CLOSE
