"""In-batch deduplication: the latest fetch of each key wins, ties by ingest_id."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pipelines.silver.dedup import latest_per_key

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def rows(*records: tuple[str, int, int, str, float]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "asset_id": asset,
                "ts": T0 + dt.timedelta(hours=hour),
                "fetched_at": T0 + dt.timedelta(days=fetch),
                "ingest_id": ingest,
                "close": close,
            }
            for asset, hour, fetch, ingest, close in records
        ]
    )


def test_latest_fetch_then_larger_ingest_id_wins_per_key() -> None:
    batch = rows(
        ("btc", 0, 1, "a", 1.0),
        ("btc", 0, 2, "b", 2.0),  # later fetch
        ("btc", 1, 1, "a", 3.0),
        ("btc", 1, 1, "c", 4.0),  # same fetch, larger ingest_id
        ("eth", 0, 1, "a", 5.0),
        ("btc", 0, 1, "z", 6.0),  # larger ingest_id, but an older fetch
    )
    kept = latest_per_key(batch, ("asset_id", "ts")).sort_by("close")
    assert kept.column("close").to_pylist() == [2.0, 4.0, 5.0]


def test_small_batches_pass_through() -> None:
    assert latest_per_key(rows(), ("asset_id", "ts")).num_rows == 0
    assert latest_per_key(rows(("btc", 0, 1, "a", 1.0)), ("asset_id", "ts")).num_rows == 1
