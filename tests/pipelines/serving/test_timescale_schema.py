"""What only TimescaleDB has: the hypertables and their chunk intervals, chunk exclusion of
the store's range reads, retention by whole chunks, jsonb, and the edition-driven schema
(the Apache build runs here; the License build's statements are checked for what they ask).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import psycopg
import pytest

from pipelines.contracts.served import RISK_SCORES
from pipelines.serving import schema
from pipelines.serving.queries import ohlcv_query
from pipelines.serving.schema import TIMESCALE_MIGRATIONS as MIGRATIONS
from pipelines.serving.timescale_store import TimescaleStore
from tests.fixtures.sample_data import DAY, SAMPLE_ASSETS, T0, bars
from tests.fixtures.serving import series_rows

pytestmark = pytest.mark.timescaledb

CHUNK = re.compile(r"_hyper_\d+_\d+_chunk")


@pytest.fixture
def ts_store(fresh_timescale_dsn: str) -> Iterator[TimescaleStore]:
    with TimescaleStore(fresh_timescale_dsn, pool_max=2) as store:
        store.migrate()
        yield store


def query(dsn: str, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def test_every_time_series_is_a_hypertable_with_its_chunk_interval(
    ts_store: TimescaleStore, fresh_timescale_dsn: str
) -> None:
    rows = query(
        fresh_timescale_dsn,
        "SELECT hypertable_name, column_name, time_interval "
        "FROM timescaledb_information.dimensions ORDER BY 1",
    )
    assert rows == [
        ("asset_features", "ts", dt.timedelta(days=365)),
        ("economic_indicators", "ts", dt.timedelta(days=3650)),
        ("market_daily", "ts", dt.timedelta(days=365)),
        ("news_articles", "ts", dt.timedelta(days=365)),
        ("ohlcv", "ts", dt.timedelta(days=30)),
        ("ohlcv_intraday", "ts", dt.timedelta(days=1)),
        ("onchain_metrics", "ts", dt.timedelta(days=365)),
        ("sentiment_scores", "ts", dt.timedelta(days=365)),
    ]


def test_a_range_read_scans_only_the_chunks_overlapping_its_window(
    ts_store: TimescaleStore, fresh_timescale_dsn: str
) -> None:
    ts_store.upsert_ohlcv(bars("ousg", "1d", 240, step=DAY))  # eight months: 30-day chunks
    start, end = T0 + 70 * DAY, T0 + 100 * DAY
    every_chunk = query(
        fresh_timescale_dsn,
        "SELECT chunk_name, range_start, range_end FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'ohlcv'",
    )
    overlapping = {name for name, lo, hi in every_chunk if lo < end and hi > start}  # type: ignore[operator]
    assert len(every_chunk) >= 8
    assert len(overlapping) == 2

    for limit in (None, 10):
        sql, params = ohlcv_query("ousg", "1d").within(start, end, limit).sql("%s")
        plan = "\n".join(
            str(row[0]) for row in query(fresh_timescale_dsn, f"EXPLAIN {sql}", params)
        )
        assert set(CHUNK.findall(plan)) == overlapping, plan
    assert len(ts_store.ohlcv("ousg", "1d", start, end)) == 30


def test_retention_drops_whole_day_chunks(
    ts_store: TimescaleStore, fresh_timescale_dsn: str
) -> None:
    ts_store.upsert_ohlcv(bars("ousg", "1m", 3 * 1440, step=dt.timedelta(minutes=1)))
    result = ts_store.apply_retention(T0 + 2 * DAY + ts_store.intraday_retention)
    assert (result.chunks_dropped, result.rows_dropped) == (2, 2 * 1440)
    remaining = query(
        fresh_timescale_dsn,
        "SELECT count(*) FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'ohlcv_intraday'",
    )
    assert remaining == [(1,)]


def test_risk_factors_are_stored_as_jsonb(
    ts_store: TimescaleStore, fresh_timescale_dsn: str
) -> None:
    ts_store.upsert_assets(SAMPLE_ASSETS)
    ts_store.upsert_risk_scores(
        series_rows(
            RISK_SCORES, 2, {"asset_id": "ousg", "model_version": "r1"}, time_column="calculated_at"
        )
    )
    rows = query(
        fresh_timescale_dsn, "SELECT factors -> 'i' FROM risk_scores ORDER BY calculated_at"
    )
    assert rows == [(0,), (1,)]


def test_apache_build_gets_a_plain_materialized_view_and_no_policies(
    ts_store: TimescaleStore, fresh_timescale_dsn: str
) -> None:
    if ts_store.edition != "apache":
        pytest.skip("the server runs the Timescale License build")
    assert query(fresh_timescale_dsn, "SELECT matviewname FROM pg_matviews") == [("ohlcv_1w",)]
    policies = query(
        fresh_timescale_dsn,
        "SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL",
    )
    assert policies == []


def test_license_build_statements_use_its_features() -> None:
    """The License build cannot run here (Debian ships the Apache one): check at least that
    its migrations ask for the continuous aggregate and compression, and nothing else
    differs."""
    by_version = {m.version: m for m in MIGRATIONS}
    weekly = " ".join(by_version[5].statements_for(licensed=True))
    assert "timescaledb.continuous" in weekly
    assert "add_continuous_aggregate_policy('ohlcv_1w'" in weekly
    compression = " ".join(by_version[6].statements_for(licensed=True))
    assert "timescaledb.compress" in compression
    assert "add_compression_policy('ohlcv'" in compression
    assert by_version[6].statements_for(licensed=False) == ()
    volume = by_version[7].statements_for(licensed=True)
    assert volume[:3] == schema.NULLABILITY_DDL
    assert "timescaledb.continuous" in " ".join(volume)
    assert schema.COMPLETE_VOLUME_SUM in " ".join(volume)
    assert [m.version for m in MIGRATIONS if m.licensed is not None] == [5, 6, 7]
    plain = schema.Migration(9, "plain", ("SELECT 1",))
    assert plain.statements_for(licensed=True) == ("SELECT 1",)
