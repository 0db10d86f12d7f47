"""The two ways a batch reaches a table: rows outside the stored time range of their series
are appended as they are (TimescaleDB: COPY straight into the hypertable), the others are
upserted from a staged copy. The result is the same either way and on both stores; what the
TimescaleDB tests add is which path each row took, that a replay writes no row version, and
that a batch failing half-way (an error, a killed connection) leaves nothing behind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, TypeVar

import psycopg
import pyarrow as pa
import pytest

from pipelines.contracts.served import FEATURES, OHLCV, PREDICTIONS, ServedTable
from pipelines.core.errors import StoreUnavailableError
from pipelines.serving import binary_copy, fresh_rows
from pipelines.serving.duckdb_store import DuckDBStore
from pipelines.serving.store import ServingStore
from pipelines.serving.timescale_store import TimescaleStore
from tests.fixtures.sample_data import DAY, HOUR, SAMPLE_ASSETS, T0, bars
from tests.fixtures.serving import series_rows

T = TypeVar("T")
ON_TIMESCALE = pytest.mark.parametrize(
    "store", [pytest.param("timescaledb", marks=pytest.mark.timescaledb)], indirect=True
)
ON_DUCKDB = pytest.mark.parametrize("store", ["duckdb"], indirect=True)


class Paths:
    """Rows each path of a store received, per table (a spy on its two hooks)."""

    def __init__(
        self, store: TimescaleStore | DuckDBStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.appended: dict[str, int] = {}
        self.upserted: dict[str, int] = {}
        append, staged = store._append, store._staged

        def spy_append(cur: Any, table: ServedTable, rows: pa.Table) -> bool:
            self.appended[table.name] = self.appended.get(table.name, 0) + rows.num_rows
            return append(cur, table, rows)

        def spy_staged(cur: Any, table: ServedTable, rows: pa.Table) -> Any:
            self.upserted[table.name] = self.upserted.get(table.name, 0) + rows.num_rows
            return staged(cur, table, rows)

        monkeypatch.setattr(store, "_append", spy_append)
        monkeypatch.setattr(store, "_staged", spy_staged)


@pytest.fixture
def paths(store: ServingStore, monkeypatch: pytest.MonkeyPatch) -> Paths:
    assert isinstance(store, TimescaleStore | DuckDBStore)
    return Paths(store, monkeypatch)


def opens(store: ServingStore, asset_id: str = "ousg") -> list[float]:
    return [bar.open for bar in store.ohlcv(asset_id, "1h")]


def row_versions(store: ServingStore, table: str = "ohlcv") -> list[tuple[Any, ...]]:
    """(key, xmin) of every row: xmin changes when a row is rewritten, even unchanged."""
    assert isinstance(store, TimescaleStore)
    with store._cursor() as cur:
        rows = cur.execute(f"SELECT ts, xmin::text FROM {table} ORDER BY ts").fetchall()
    return [tuple(row) for row in rows]


# --- the same result on both stores --------------------------------------------------------


def test_a_batch_mixing_new_changed_and_gap_rows_loads_like_an_upsert(
    store: ServingStore,
) -> None:
    store.upsert_ohlcv(pa.concat_tables([bars(n=3), bars(n=2, start=T0 + 5 * HOUR, base=105)]))
    # Bar 1 changes, 3-4 fill the gap, 7-8 extend the series, and "btc" is a new series.
    batch = pa.concat_tables(
        [
            bars(n=1, start=T0 + HOUR, base=901),
            bars(n=2, start=T0 + 3 * HOUR, base=103),
            bars(n=2, start=T0 + 7 * HOUR, base=107),
            bars("btc", n=2, base=50),
        ]
    )
    assert store.upsert_ohlcv(batch) == 7
    assert opens(store) == [100.0, 901.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0, 108.0]
    assert opens(store, "btc") == [50.0, 51.0]


def test_a_batch_failing_after_its_new_rows_went_in_leaves_nothing(
    store: ServingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.upsert_ohlcv(bars(n=3))

    def broken(*args: object) -> Iterator[str]:
        raise RuntimeError("the upsert half fails")

    # New rows (4-5) go first, then the staged half (bar 2) fails: the whole batch is undone.
    monkeypatch.setattr(store, "_staged", broken)
    batch = pa.concat_tables(
        [bars(n=1, start=T0 + 2 * HOUR, base=7), bars(n=2, start=T0 + 4 * HOUR)]
    )
    with pytest.raises(RuntimeError, match="upsert half"):
        store.upsert_ohlcv(batch)
    assert opens(store) == [100.0, 101.0, 102.0]


# --- which path, on DuckDB -------------------------------------------------------------------


@ON_DUCKDB
def test_a_first_duckdb_load_is_inserted_whole_and_its_replay_upserted(
    store: ServingStore, paths: Paths
) -> None:
    """The append path spares a first load the upsert's anti-join, whose hash table is built
    on the stored rows (its memory grew with the store); a replay lies inside the stored
    ranges and goes through the upsert, which finds nothing to change."""
    batch = pa.concat_tables([bars(n=24), bars("btc", "1d", 3, step=DAY)])
    assert store.upsert_ohlcv(batch) == 27
    assert (paths.appended, paths.upserted) == ({"ohlcv": 27}, {})
    before = store.ohlcv("ousg", "1h")
    assert store.upsert_ohlcv(batch) == 27
    assert (paths.appended, paths.upserted) == ({"ohlcv": 27}, {"ohlcv": 27})
    assert store.ohlcv("ousg", "1h") == before
    assert len(store.ohlcv("btc", "1d")) == 3


# --- which path, on TimescaleDB --------------------------------------------------------------


@ON_TIMESCALE
def test_a_first_load_is_appended_whole_and_its_replay_writes_nothing(
    store: ServingStore, paths: Paths
) -> None:
    batch = pa.concat_tables([bars(n=24), bars("btc", "1d", 3, step=DAY)])
    assert store.upsert_ohlcv(batch) == 27
    assert (paths.appended, paths.upserted) == ({"ohlcv": 27}, {})
    before = row_versions(store)

    assert store.upsert_ohlcv(batch) == 27
    assert (paths.appended, paths.upserted) == ({"ohlcv": 27}, {"ohlcv": 27})
    assert row_versions(store) == before  # no row rewritten, not even with equal values


@ON_TIMESCALE
def test_only_rows_inside_the_stored_range_pay_for_the_upsert(
    store: ServingStore, paths: Paths
) -> None:
    store.upsert_ohlcv(bars(n=10))
    # Bars 8-9 overlap the stored 0-9, bars 10-13 extend it.
    assert store.upsert_ohlcv(bars(n=6, start=T0 + 8 * HOUR, base=500)) == 6
    assert (paths.appended, paths.upserted) == ({"ohlcv": 14}, {"ohlcv": 2})
    assert opens(store)[7:] == [107.0, 500.0, 501.0, 502.0, 503.0, 504.0, 505.0]


@ON_TIMESCALE
def test_intraday_and_other_tables_take_the_same_paths(store: ServingStore, paths: Paths) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    minute = dt.timedelta(minutes=1)
    store.upsert_ohlcv(pa.concat_tables([bars(n=2), bars(resolution="1m", n=5, step=minute)]))
    features = series_rows(FEATURES, 4, {"asset_id": "ousg"})
    predictions = series_rows(
        PREDICTIONS,
        3,
        {"asset_id": "ousg", "horizon_days": 7, "model_version": "m1", "target_date": T0.date()},
        time_column="generated_at",
    )
    for _ in range(2):  # a first load, then its replay
        store.upsert_features(features)
        store.upsert_predictions(predictions)
    expected = {"ohlcv": 2, "ohlcv_intraday": 5, "asset_features": 4, "predictions": 3}
    assert paths.appended == expected
    assert paths.upserted == {name: n for name, n in expected.items() if "ohlcv" not in name}
    assert store.table_counts()["asset_features"] == 4


@ON_TIMESCALE
def test_a_key_stored_after_the_look_up_is_upserted_not_refused(
    store: ServingStore, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent writer may store a key between the range look-up and the COPY: the COPY's
    unique violation is rolled back to its savepoint and the rows go through the upsert."""
    store.upsert_ohlcv(bars(n=3))
    assert isinstance(store, TimescaleStore)

    def nothing_stored(cur: Any, table: ServedTable, series: pa.Table) -> pa.Table:
        empty = pa.nulls(series.num_rows, table.schema.field(table.time_column).type)
        return series.append_column(fresh_rows.EARLIEST, empty).append_column(
            fresh_rows.LATEST, empty
        )

    monkeypatch.setattr(store, "_stored_ranges", nothing_stored)
    assert store.upsert_ohlcv(bars(n=4, base=200)) == 4
    assert paths.appended == {"ohlcv": 3 + 4} and paths.upserted == {"ohlcv": 4}
    assert opens(store) == [200.0, 201.0, 202.0, 203.0]


@ON_TIMESCALE
def test_a_connection_killed_mid_copy_leaves_nothing_and_the_next_load_works(
    store: ServingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(store, TimescaleStore)
    store.upsert_ohlcv(bars(n=2))
    encode = binary_copy.encode

    def killed_half_way(rows: pa.Table, json_columns: Any = ()) -> Iterator[memoryview]:
        parts = encode(rows, json_columns)
        assert parts is not None
        yield parts[0]
        with store._cursor() as cur:  # another pooled connection ends the loading one
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'COPY ohlcv %%'"
            )
        yield from parts[1:]

    monkeypatch.setattr(binary_copy, "encode", killed_half_way)
    with pytest.raises((StoreUnavailableError, psycopg.Error)):
        store.upsert_ohlcv(bars(n=100, start=T0 + 2 * HOUR))
    monkeypatch.setattr(binary_copy, "encode", encode)
    assert store.table_counts()["ohlcv_1h"] == 2
    assert store.upsert_ohlcv(bars(n=100, start=T0 + 2 * HOUR)) == 100
    assert store.table_counts()["ohlcv_1h"] == 102


# --- the encoder -----------------------------------------------------------------------------


def every_type(n: int) -> pa.Table:
    """``n`` rows of every type the encoder takes, nulls and lengths varying by row."""
    base = dt.datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)

    def maybe(i: int, value: T) -> T | None:
        return None if i % 5 == 4 else value

    rows = range(n)
    return pa.table(
        {
            "text": pa.array([maybe(i, "é" * (i % 4) + "x" * (i % 3)) for i in rows]),
            "ts": pa.array([maybe(i, base + i * HOUR) for i in rows], pa.timestamp("us", "UTC")),
            "f8": pa.array([maybe(i, (0.1 + 0.2) * 10.0 ** (i - 5)) for i in rows]),
            "i8": pa.array([maybe(i, -(2**62) + i) for i in rows], pa.int64()),
            "i4": pa.array([maybe(i, i - 3) for i in rows], pa.int32()),
            "d": pa.array([maybe(i, dt.date(1969, 12, 31) + i * DAY) for i in rows], pa.date32()),
            "b": pa.array([maybe(i, i % 2 == 0) for i in rows]),
            "doc": pa.array([maybe(i, f'{{"i": {i}, "s": "ü"}}') for i in rows]),
        }
    )


@pytest.mark.timescaledb
def test_encoded_rows_read_back_equal_to_row_wise_copy(timescale_dsn: str) -> None:
    rows = every_type(40)
    types = "text text, ts timestamptz, f8 float8, i8 int8, i4 int4, d date, b bool, doc jsonb"
    with psycopg.connect(timescale_dsn) as conn:
        conn.execute(f"CREATE TEMP TABLE encoded ({types})")
        conn.execute(f"CREATE TEMP TABLE row_wise ({types.replace('jsonb', 'text')})")
        with conn.cursor().copy("COPY encoded FROM STDIN (FORMAT BINARY)") as copy:
            for part in binary_copy.encode(rows, {"doc"}) or []:
                copy.write(part)
        with conn.cursor().copy("COPY row_wise FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(
                ["text", "timestamptz", "float8", "int8", "int4", "date", "bool", "text"]
            )
            for row in rows.to_pylist():
                copy.write_row(list(row.values()))
        conn.execute("ALTER TABLE row_wise ALTER doc TYPE jsonb USING doc::jsonb")
        encoded, row_wise = (
            conn.execute(f"SELECT * FROM {name} ORDER BY i4, ts, text, f8, d").fetchall()
            for name in ("encoded", "row_wise")
        )
    assert encoded == row_wise
    assert len(encoded) == 40


def test_no_rows_encode_as_an_empty_copy() -> None:
    parts = binary_copy.encode(every_type(0)) or []
    assert b"".join(parts) == binary_copy.SIGNATURE + binary_copy.TRAILER


def test_too_many_row_layouts_are_left_to_row_wise_copy() -> None:
    lengths = binary_copy.MAX_LAYOUTS + 1
    text = pa.table({"text": ["x" * i for i in range(lengths)]})
    assert binary_copy.encode(text) is None
    assert binary_copy.encode(text.slice(0, binary_copy.MAX_LAYOUTS)) is not None


def test_a_row_is_fresh_only_outside_its_series_stored_range() -> None:
    batch = pa.concat_tables([bars(n=5), bars("btc", n=2)])
    stored = pa.table(
        {
            "asset_id": ["ousg", "btc"],
            "resolution": ["1h", "1h"],
            fresh_rows.EARLIEST: pa.array([T0 + HOUR, None], pa.timestamp("us", "UTC")),
            fresh_rows.LATEST: pa.array([T0 + 2 * HOUR, None], pa.timestamp("us", "UTC")),
        }
    )
    mask = fresh_rows.fresh_mask(batch, OHLCV, stored)
    assert mask.tolist() == [True, False, False, True, True, True, True]
