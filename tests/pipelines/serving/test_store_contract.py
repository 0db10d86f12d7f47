"""The serving-store contract, run against both implementations (the ``store`` fixture), then
what only one of them has: DuckDB's file modes, TimescaleDB's hypertable, edition, versioned
migrations and connection failures.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pyarrow as pa
import pytest

from pipelines.contracts.served import (
    COUNTED_TABLES,
    LOADED_TABLES,
    OHLCV_SCHEMA,
    RESOLUTIONS,
    ServedTable,
)
from pipelines.core.errors import ConfigurationError, DataContractError, StoreUnavailableError
from pipelines.core.settings import Settings
from pipelines.serving import open_store
from pipelines.serving.duckdb_store import DuckDBStore
from pipelines.serving.schema import TIMESCALE_MIGRATIONS as MIGRATIONS
from pipelines.serving.sql_store import SqlStore
from pipelines.serving.store import OhlcvBar, ServingStore
from pipelines.serving.timescale_store import TimescaleStore
from tests.fixtures.processes import free_port
from tests.fixtures.sample_data import DAY, HOUR, SAMPLE_ASSETS, T0, bars

S = TypeVar("S", bound=SqlStore[Any])
MINUTE = dt.timedelta(minutes=1)


def opens(result: list[OhlcvBar]) -> list[float]:
    return [bar.open for bar in result]


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    """The tables of ``table_counts`` that hold loaded rows. Weekly bars are left out: they
    follow the daily ones on read (DuckDB) or at refresh_aggregates() (TimescaleDB)."""
    return {table: rows for table, rows in counts.items() if rows and table != "ohlcv_1w"}


# --- schema ---------------------------------------------------------------------------------


def test_migrate_again_is_harmless_and_keeps_data(store: ServingStore) -> None:
    store.upsert_ohlcv(bars(n=3))
    store.migrate()
    store.migrate()
    assert store.table_counts()["ohlcv_1h"] == 3


def test_a_new_store_is_empty(store: ServingStore) -> None:
    counts = store.table_counts()
    assert set(counts) == {f"ohlcv_{r}" for r in RESOLUTIONS} | set(COUNTED_TABLES)
    assert set(counts.values()) == {0}
    assert store.list_assets() == []


# --- assets ---------------------------------------------------------------------------------


def test_assets_round_trip_equal_in_id_order(store: ServingStore) -> None:
    assert store.upsert_assets(SAMPLE_ASSETS) == 3
    assert store.list_assets() == sorted(SAMPLE_ASSETS, key=lambda asset: asset.asset_id)
    for asset in SAMPLE_ASSETS:
        assert store.get_asset(asset.asset_id) == asset


def test_upserting_an_asset_replaces_it(store: ServingStore) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    renamed = SAMPLE_ASSETS[0].model_copy(
        update={"name": "Renamed", "audits": [], "redemption": None}
    )
    store.upsert_assets([renamed])
    assert store.get_asset("ousg") == renamed
    assert store.table_counts()["assets"] == 3


def test_list_assets_by_class(store: ServingStore) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    assert [a.asset_id for a in store.list_assets("stablecoin")] == ["usdc"]
    assert store.list_assets("real_estate") == []


def test_unknown_asset_is_none(store: ServingStore) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    assert store.get_asset("nope") is None


def test_upserting_no_assets_writes_nothing(store: ServingStore) -> None:
    assert store.upsert_assets([]) == 0


# --- OHLCV writes ---------------------------------------------------------------------------


def test_loading_the_same_bars_twice_changes_nothing(store: ServingStore) -> None:
    batch = pa.concat_tables([bars(n=24), bars("ousg", "1d", 3, step=DAY)])
    assert store.upsert_ohlcv(batch) == 27
    first = (store.table_counts(), store.ohlcv("ousg", "1h"), store.ohlcv("ousg", "1d"))
    assert store.upsert_ohlcv(batch) == 27
    assert (store.table_counts(), store.ohlcv("ousg", "1h"), store.ohlcv("ousg", "1d")) == first
    assert nonzero(first[0]) == {"ohlcv_1h": 24, "ohlcv_1d": 3}


def test_loading_changed_values_updates_them(store: ServingStore) -> None:
    store.upsert_ohlcv(bars(n=5))
    # Overlapping batch: bars 3-4 change, bars 5-6 are new.
    store.upsert_ohlcv(bars(n=4, start=T0 + 3 * HOUR, base=500.0))
    assert opens(store.ohlcv("ousg", "1h")) == [100.0, 101.0, 102.0, 500.0, 501.0, 502.0, 503.0]
    assert store.ohlcv("ousg", "1h", start=T0 + 3 * HOUR)[0] == OhlcvBar(
        T0 + 3 * HOUR, 500.0, 500.5, 499.5, 500.25, 1000.0
    )
    assert store.table_counts()["ohlcv_1h"] == 7


def test_float_values_round_trip_exactly(store: ServingStore) -> None:
    values = [0.1 + 0.2, 1e-300, 123456789.123456789, 5e-324, 1.7976931348623157e308]
    table = bars(n=len(values)).set_column(3, "open", pa.array(values, pa.float64()))
    store.upsert_ohlcv(table)
    assert opens(store.ohlcv("ousg", "1h")) == values


def test_bars_in_any_column_order_and_time_unit_are_accepted(store: ServingStore) -> None:
    table = bars(n=3)
    reordered = table.select(list(reversed(table.column_names)))
    ts_index = reordered.column_names.index("ts")
    reordered = reordered.set_column(
        ts_index, "ts", reordered.column("ts").cast(pa.timestamp("ns", tz="UTC"))
    )
    assert store.upsert_ohlcv(reordered) == 3
    assert [bar.ts for bar in store.ohlcv("ousg", "1h")] == [T0, T0 + HOUR, T0 + 2 * HOUR]


def test_an_empty_batch_writes_nothing(store: ServingStore) -> None:
    assert store.upsert_ohlcv(OHLCV_SCHEMA.empty_table()) == 0
    assert store.table_counts()["ohlcv_1h"] == 0


def test_a_batch_repeating_a_key_is_refused_whole(store: ServingStore) -> None:
    batch = pa.concat_tables([bars(n=3), bars(n=1, start=T0 + HOUR, base=7.0)])
    with pytest.raises(DataContractError, match=r"repeat the key .*'ousg', '1h'"):
        store.upsert_ohlcv(batch)
    assert store.table_counts()["ohlcv_1h"] == 0


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda t: t.drop_columns(["volume"]), r"lack column\(s\) \['volume'\]"),
        (
            lambda t: t.set_column(3, "open", pa.array([None, 1.0], pa.float64())),
            r"nulls in 'open'",
        ),
        (
            lambda t: t.set_column(1, "resolution", pa.array(["1h", "15m"])),
            r"unknown resolution\(s\) \['15m'\]",
        ),
        (
            lambda t: t.set_column(3, "open", pa.array(["x", "y"])),
            r"do not match the schema",
        ),
    ],
    ids=["missing-column", "null", "unknown-resolution", "wrong-type"],
)
def test_bad_bars_raise_a_data_contract_error(
    store: ServingStore, broken: Callable[[pa.Table], pa.Table], message: str
) -> None:
    with pytest.raises(DataContractError, match=message):
        store.upsert_ohlcv(broken(bars(n=2)))
    assert store.table_counts()["ohlcv_1h"] == 0


def with_volumes(table: pa.Table, volumes: Sequence[float | None]) -> pa.Table:
    """``table`` with its ``volume`` column replaced (None: the source published none)."""
    index = table.column_names.index("volume")
    return table.set_column(index, "volume", pa.array(volumes, pa.float64()))


def test_bars_without_a_volume_are_stored_and_read_back_as_none(store: ServingStore) -> None:
    # CoinGecko's OHLC endpoint publishes no volume: the data model keeps it null.
    hourly = with_volumes(bars(n=3), [None, 1001.0, None])
    minutes = with_volumes(bars(resolution="1m", n=2, step=MINUTE), [None, None])
    assert store.upsert_ohlcv(pa.concat_tables([hourly, minutes])) == 5
    assert [bar.volume for bar in store.ohlcv("ousg", "1h")] == [None, 1001.0, None]
    assert [bar.volume for bar in store.ohlcv("ousg", "1m")] == [None, None]
    assert store.upsert_ohlcv(hourly) == 3  # reloading the same nulls changes nothing
    store.upsert_ohlcv(bars(n=1))  # a volume learnt later replaces the unknown one
    assert [bar.volume for bar in store.ohlcv("ousg", "1h")] == [1000.0, 1001.0, None]
    assert opens(store.ohlcv("ousg", "1h")) == [100.0, 101.0, 102.0]


def test_a_week_with_a_day_of_unknown_volume_has_unknown_volume(store: ServingStore) -> None:
    # T0 is a Monday: days 0-6 are one ISO week (volumes all known), days 7-13 the next.
    daily = with_volumes(bars("ousg", "1d", 14, step=DAY), [1.0] * 7 + [1.0, None] + [1.0] * 5)
    store.upsert_ohlcv(daily)
    store.refresh_aggregates()
    assert [bar.volume for bar in store.ohlcv("ousg", "1w")] == [7.0, None]
    assert [bar.open for bar in store.ohlcv("ousg", "1w")] == [100.0, 107.0]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("column", ["high", "volume"])
def test_non_finite_numbers_are_refused_naming_table_and_column(
    store: ServingStore, column: str, value: float
) -> None:
    table = bars(n=3)
    index = table.column_names.index(column)
    values = table.column(column).to_pylist()
    broken = table.set_column(index, column, pa.array([values[0], value, values[2]]))
    with pytest.raises(DataContractError) as raised:
        store.upsert_ohlcv(broken)
    message = str(raised.value)
    assert f"table 'ohlcv') have 1 non-finite value(s) in '{column}'" in message
    assert "'ousg', '1h'" in message  # the key of the offending bar
    assert store.table_counts()["ohlcv_1h"] == 0


def _nullable_columns(store: ServingStore, table: str) -> dict[str, bool]:
    """Whether each column of ``table`` may be null, as the database's catalog says."""
    assert isinstance(store, SqlStore)
    sql = (
        "SELECT column_name, is_nullable FROM information_schema.columns "
        f"WHERE table_name = '{table}'"
    )
    with store._cursor() as cur:  # the catalog is no part of the store contract
        return {name: nullable == "YES" for name, nullable in cur.execute(sql).fetchall()}


@pytest.mark.parametrize("table", LOADED_TABLES, ids=lambda table: table.name)
def test_store_columns_are_nullable_exactly_where_declared(
    store: ServingStore, table: ServedTable
) -> None:
    # One declaration per table (its Arrow schema); the DDL must not drift from it.
    declared = {field.name: field.nullable for field in table.schema}
    assert _nullable_columns(store, table.name) == declared


def _before_nullable_volume(store_class: type[S]) -> type[S]:
    """``store_class`` as released before migration 7 (volume NOT NULL)."""
    released = tuple(m for m in store_class._migrations if m.version < 7)
    return type(f"Old{store_class.__name__}", (store_class,), {"_migrations": released})


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("timescaledb", marks=pytest.mark.timescaledb)]
)
def test_a_store_migrated_before_nullable_volume_upgrades_and_keeps_its_bars(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    opener: Callable[[type[SqlStore[Any]]], SqlStore[Any]]
    if backend == "duckdb":
        opener = lambda cls: cls(tmp_path / "old.duckdb")  # noqa: E731
    else:
        dsn = request.getfixturevalue("fresh_timescale_dsn")
        opener = lambda cls: cls(dsn)  # noqa: E731
    new_class: type[SqlStore[Any]] = DuckDBStore if backend == "duckdb" else TimescaleStore
    with opener(_before_nullable_volume(new_class)) as old:
        old.migrate()
        old.upsert_ohlcv(bars("ousg", "1d", 7, step=DAY))
        old.refresh_aggregates()
        assert not _nullable_columns(old, "ohlcv")["volume"]
    with opener(new_class) as upgraded:
        upgraded.migrate()
        upgraded.upsert_ohlcv(with_volumes(bars("ousg", "1d", 1, start=T0 + 7 * DAY), [None]))
        upgraded.refresh_aggregates()
        daily = upgraded.ohlcv("ousg", "1d")
        assert [bar.volume for bar in daily] == [1000.0 + i for i in range(7)] + [None]
        weekly = upgraded.ohlcv("ousg", "1w")
        assert [bar.volume for bar in weekly] == [sum(1000.0 + i for i in range(7)), None]
        assert _nullable_columns(upgraded, "ohlcv")["volume"]


# --- OHLCV reads ----------------------------------------------------------------------------


def test_range_is_start_inclusive_end_exclusive_and_in_time_order(store: ServingStore) -> None:
    table = bars(n=10)
    shuffled = table.take([7, 2, 9, 0, 5, 1, 8, 3, 6, 4])
    store.upsert_ohlcv(shuffled)
    result = store.ohlcv("ousg", "1h", start=T0 + 2 * HOUR, end=T0 + 6 * HOUR)
    assert [bar.ts for bar in result] == [T0 + i * HOUR for i in (2, 3, 4, 5)]
    assert opens(store.ohlcv("ousg", "1h", start=T0 + 8 * HOUR)) == [108.0, 109.0]
    assert opens(store.ohlcv("ousg", "1h", end=T0 + 2 * HOUR)) == [100.0, 101.0]
    assert store.ohlcv("ousg", "1h", start=T0 + 5 * HOUR, end=T0 + 5 * HOUR) == []


def test_limit_gives_the_newest_bars_in_ascending_order(store: ServingStore) -> None:
    store.upsert_ohlcv(bars(n=10))
    assert opens(store.ohlcv("ousg", "1h", limit=3)) == [107.0, 108.0, 109.0]
    assert opens(store.ohlcv("ousg", "1h", end=T0 + 5 * HOUR, limit=2)) == [103.0, 104.0]
    assert len(store.ohlcv("ousg", "1h", limit=100)) == 10
    assert store.ohlcv("ousg", "1h", limit=0) == []


def test_resolutions_are_separate_series(store: ServingStore) -> None:
    store.upsert_ohlcv(bars("ousg", "1h", 3, base=1.0))
    store.upsert_ohlcv(bars("ousg", "1d", 3, step=DAY, base=50.0))
    assert opens(store.ohlcv("ousg", "1h")) == [1.0, 2.0, 3.0]
    assert opens(store.ohlcv("ousg", "1d")) == [50.0, 51.0, 52.0]
    # The bars at T0 share asset and time stamp; each resolution keeps its own.
    assert store.ohlcv("ousg", "1h", limit=1)[0].ts == T0 + 2 * HOUR
    assert store.ohlcv("ousg", "1d", end=T0 + HOUR)[0].open == 50.0


def test_unknown_asset_has_no_bars(store: ServingStore) -> None:
    store.upsert_ohlcv(bars(n=3))
    assert store.ohlcv("nope", "1h") == []
    assert store.ohlcv("ousg", "1d") == []


def test_time_stamps_come_back_utc_and_bounds_in_any_zone_mean_the_same_instant(
    store: ServingStore,
) -> None:
    store.upsert_ohlcv(bars(n=6))
    for bar in store.ohlcv("ousg", "1h"):
        assert bar.ts.tzinfo is dt.UTC
    plus_two = dt.timezone(dt.timedelta(hours=2))
    start = (T0 + HOUR).astimezone(plus_two)  # 03:00+02:00 is 01:00 UTC
    naive_end = (T0 + 3 * HOUR).replace(tzinfo=None)  # naive bounds are read as UTC
    assert opens(store.ohlcv("ousg", "1h", start=start, end=naive_end)) == [101.0, 102.0]


def in_threads(calls: Sequence[Callable[[], object]]) -> list[BaseException]:
    """Runs every call in a thread of its own, all at once; returns what they raised (a
    thread's exception is otherwise lost)."""
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_reads_from_many_threads(store: ServingStore) -> None:
    """The API calls one store from a thread pool."""
    store.upsert_ohlcv(bars(n=50))
    store.upsert_assets(SAMPLE_ASSETS)

    def read() -> None:
        for _ in range(20):
            assert len(store.ohlcv("ousg", "1h", limit=10)) == 10
            assert store.get_asset("btc") == SAMPLE_ASSETS[2]

    assert in_threads([read] * 8) == []


# --- health and counts ----------------------------------------------------------------------


def test_health_is_ok(store: ServingStore) -> None:
    health = store.health()
    assert health.ok
    assert health.backend == store.backend
    assert health.detail


def test_table_counts_cover_every_resolution(store: ServingStore) -> None:
    store.upsert_assets(SAMPLE_ASSETS[:2])
    store.upsert_ohlcv(pa.concat_tables([bars(n=4), bars("btc", "1h", 2), bars("btc", "1d", 1)]))
    assert nonzero(store.table_counts()) == {"assets": 2, "ohlcv_1h": 6, "ohlcv_1d": 1}


def test_closing_twice_is_harmless(store: ServingStore) -> None:
    store.close()
    store.close()


# --- read-only stores -----------------------------------------------------------------------


@pytest.fixture
def reopen_read_only(
    store: ServingStore, request: pytest.FixtureRequest
) -> Iterator[Callable[[], ServingStore]]:
    """Opens a read-only store on the data of ``store``; closes it afterwards. DuckDB admits
    no reader beside a writer, so ``store`` is closed first."""
    opened: list[ServingStore] = []

    def reopen() -> ServingStore:
        if isinstance(store, DuckDBStore):
            store.close()
            opened.append(DuckDBStore(store.path, read_only=True))
        else:
            opened.append(TimescaleStore(request.getfixturevalue("timescale_dsn"), read_only=True))
        return opened[-1]

    yield reopen
    for reader in opened:
        reader.close()


@pytest.mark.parametrize(
    ("operation", "write"),
    [
        ("upsert_assets", lambda s: s.upsert_assets(SAMPLE_ASSETS)),
        ("upsert_assets", lambda s: s.upsert_assets([])),
        ("upsert_ohlcv", lambda s: s.upsert_ohlcv(bars(n=1, base=9.0))),
        ("upsert_ohlcv", lambda s: s.upsert_ohlcv(OHLCV_SCHEMA.empty_table())),
    ],
    ids=["assets", "no-assets", "bars", "no-bars"],
)
def test_writes_on_a_read_only_store_raise_one_line_and_change_nothing(
    store: ServingStore,
    reopen_read_only: Callable[[], ServingStore],
    operation: str,
    write: Callable[[ServingStore], int],
) -> None:
    store.upsert_ohlcv(bars(n=2))
    reader = reopen_read_only()
    with pytest.raises(StoreUnavailableError, match=rf"is open read-only: {operation} ") as raised:
        write(reader)
    assert "\n" not in str(raised.value)
    assert nonzero(reader.table_counts()) == {"ohlcv_1h": 2}
    assert opens(reader.ohlcv("ousg", "1h")) == [100.0, 101.0]


# --- DuckDB only ----------------------------------------------------------------------------


def test_duckdb_creates_the_folder_and_keeps_data_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "serving.duckdb"
    with DuckDBStore(path) as store:
        store.migrate()
        store.upsert_ohlcv(bars(n=3))
    with DuckDBStore(path, read_only=True) as reader:
        reader.migrate()  # checks only
        assert opens(reader.ohlcv("ousg", "1h")) == [100.0, 101.0, 102.0]
        assert "read-only" in reader.health().detail


def _lacks(store_class: type[SqlStore[Any]]) -> str:
    """The message of a read-only store that has none of ``store_class``'s migrations."""
    versions = [migration.version for migration in store_class._migrations]
    return re.escape(f"lacks schema version(s) {versions}")


def test_duckdb_read_only_refuses_a_missing_or_unmigrated_file(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match=r"missing\.duckdb does not exist"):
        DuckDBStore(tmp_path / "missing.duckdb", read_only=True)
    DuckDBStore(tmp_path / "blank.duckdb").close()
    with (
        DuckDBStore(tmp_path / "blank.duckdb", read_only=True) as reader,
        pytest.raises(StoreUnavailableError, match=_lacks(DuckDBStore)),
    ):
        reader.migrate()


def test_duckdb_reader_keeps_reading_beside_a_writer_and_sees_its_load_once_closed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "serving.duckdb"
    with DuckDBStore(path) as writer:
        writer.migrate()
        writer.upsert_ohlcv(bars(n=1))
    with DuckDBStore(path, read_only=True) as reader:
        with DuckDBStore(path) as writer:
            writer.upsert_ohlcv(bars(n=3))
            assert opens(writer.ohlcv("ousg", "1h")) == [100.0, 101.0, 102.0]
            assert opens(reader.ohlcv("ousg", "1h")) == [100.0]  # not published yet
        assert opens(reader.ohlcv("ousg", "1h")) == [100.0, 101.0, 102.0]
        assert "snapshot gen-000002" in reader.health().detail


def test_duckdb_second_writer_waits_then_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "serving.duckdb"
    with DuckDBStore(path) as writer:
        writer.migrate()
        with pytest.raises(StoreUnavailableError, match=r"another loader \(pid \d+\)"):
            DuckDBStore(path, writer_wait_s=0.3)
    DuckDBStore(path, writer_wait_s=0.3).close()  # free again once the first one closed


def test_open_store_follows_the_settings(tmp_path: Path) -> None:
    settings = Settings(serving_backend="duckdb", duckdb_path=tmp_path / "s.duckdb")
    with open_store(settings.serving) as store:
        assert isinstance(store, DuckDBStore)
        assert store.path == tmp_path / "s.duckdb"


# --- TimescaleDB only -----------------------------------------------------------------------


def _query(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.timescaledb
def test_ohlcv_is_a_hypertable_on_ts(timescale_dsn: str) -> None:
    with TimescaleStore(timescale_dsn) as store:
        store.migrate()
    rows = _query(
        timescale_dsn,
        "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
        "WHERE hypertable_name = 'ohlcv'",
    )
    assert rows == [("ts", dt.timedelta(days=30))]
    hypertables = _query(
        timescale_dsn, "SELECT hypertable_name FROM timescaledb_information.hypertables"
    )
    assert ("ohlcv",) in hypertables


@pytest.mark.timescaledb
def test_edition_is_detected_and_reported(timescale_dsn: str) -> None:
    (license_,) = _query(timescale_dsn, "SHOW timescaledb.license")[0]
    with TimescaleStore(timescale_dsn) as store:
        store.migrate()
        assert store.edition == ("timescale" if license_ == "timescale" else "apache")
        detail = store.health().detail
    assert f"({store.edition} edition)" in detail
    assert detail.startswith("TimescaleDB 2.")


@pytest.mark.timescaledb
def test_concurrent_migrations_apply_each_version_once(fresh_timescale_dsn: str) -> None:
    stores = [TimescaleStore(fresh_timescale_dsn, pool_max=1) for _ in range(4)]
    errors = in_threads([store.migrate for store in stores])
    stores[0].migrate()
    for store in stores:
        store.close()
    assert errors == []
    recorded = _query(fresh_timescale_dsn, "SELECT version, name FROM schema_migrations ORDER BY 1")
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]


@pytest.mark.timescaledb
def test_time_stamps_are_utc_whatever_the_database_time_zone(fresh_timescale_dsn: str) -> None:
    with psycopg.connect(fresh_timescale_dsn, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(f"ALTER DATABASE \"{dbname}\" SET timezone = 'America/New_York'")
    with TimescaleStore(fresh_timescale_dsn) as store:
        store.migrate()
        store.upsert_ohlcv(bars(n=2, step=DAY, resolution="1d"))
        result = store.ohlcv("ousg", "1d", end=T0 + DAY)
    assert [bar.ts for bar in result] == [T0]
    assert result[0].ts.tzinfo is dt.UTC


@pytest.mark.timescaledb
def test_read_only_store_reads_but_never_writes(fresh_timescale_dsn: str) -> None:
    with TimescaleStore(fresh_timescale_dsn, read_only=True) as reader:
        with pytest.raises(StoreUnavailableError, match=_lacks(TimescaleStore)):
            reader.migrate()  # a reader only checks the schema
        with TimescaleStore(fresh_timescale_dsn) as writer:
            writer.migrate()
            writer.upsert_ohlcv(bars(n=2))
        reader.migrate()
        assert opens(reader.ohlcv("ousg", "1h")) == [100.0, 101.0]
        with pytest.raises(StoreUnavailableError, match="is open read-only: upsert_ohlcv "):
            reader.upsert_ohlcv(bars(n=1, base=9.0))
        assert opens(reader.ohlcv("ousg", "1h")) == [100.0, 101.0]
        # Behind the store's own guard, the server refuses writes too.
        with reader._cursor() as cur, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            cur.execute("DELETE FROM ohlcv")
        assert opens(reader.ohlcv("ousg", "1h")) == [100.0, 101.0]


@pytest.mark.timescaledb
def test_open_store_gives_timescale_when_configured(timescale_dsn: str) -> None:
    settings = Settings(serving_backend="timescaledb", timescale_dsn=timescale_dsn)
    with open_store(settings.serving, read_only=True) as store:
        assert isinstance(store, TimescaleStore)
        assert store.health().ok


def test_unreachable_server_raises_one_line_naming_the_dsn_without_password() -> None:
    dsn = f"postgresql://loader:s3cret@127.0.0.1:{free_port()}/rwa"
    with pytest.raises(StoreUnavailableError) as raised:
        TimescaleStore(dsn)
    message = str(raised.value)
    assert f"postgresql://loader@127.0.0.1:{dsn.split(':')[3].split('/')[0]}/rwa" in message
    assert "s3cret" not in message
    assert "\n" not in message


def test_invalid_dsn_is_a_configuration_error_without_the_dsn() -> None:
    with pytest.raises(ConfigurationError, match="RWA_TIMESCALE_DSN") as raised:
        TimescaleStore("postgresql://user:pa ss@host:notaport/db?bogus=1")
    assert "pa ss" not in str(raised.value)


def test_health_of_a_closed_store_is_not_ok_and_does_not_raise(store: ServingStore) -> None:
    store.close()
    health = store.health()
    assert not health.ok
    assert health.detail
