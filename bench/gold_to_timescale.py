"""Benchmark: gold OHLCV -> TimescaleDB through the serving store, beside ``psql \\copy``.

Builds gold-shaped hourly bars (``--assets`` x ``--hours``, one million rows by default) and,
in a throwaway database on the TimescaleDB server of ``RWA_TIMESCALE_DSN``, times:

* **store, fresh**: :func:`pipelines.serving.load.upsert_in_batches` with
  ``TimescaleStore.upsert_ohlcv`` into the empty ``ohlcv`` hypertable, the path ``rwa load``
  takes (validation, a look-up of each series' stored time range, and, all rows being new,
  binary COPY straight into the hypertable, in transactions of ``load.BATCH_ROWS`` rows);
* **store, replay**: the same rows again (the idempotent rerun: every row lies in a stored
  range, so binary COPY into a temporary staging table, anti-join of unchanged rows,
  ``INSERT ... ON CONFLICT``; nothing changes);
* **baseline**: ``psql \\copy`` of the same rows as CSV into a like hypertable (same columns,
  key and chunk interval): the fastest plain load, with no upsert, no validation, no staging.

Prints rows/s of each and the ratios; with ``--rounds N`` all three run N times in turn
(tables emptied between rounds), which on a machine shared with other work gives ratios of
neighbouring runs and the best of each. Needs ``psql`` on PATH (``--psql`` to choose one).
Usage:
    .venv/bin/python bench/gold_to_timescale.py [--assets 50] [--hours 20000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pipelines.contracts.served import OHLCV_SCHEMA
from pipelines.core.settings import get_settings
from pipelines.serving.load import upsert_in_batches
from pipelines.serving.timescale_store import TimescaleStore

START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def gold_bars(assets: int, hours: int) -> pa.Table:
    """``assets`` x ``hours`` hourly bars, random-walk prices, in :data:`OHLCV_SCHEMA`."""
    rng = np.random.default_rng(42)
    n = assets * hours
    stamps = np.datetime64(START.replace(tzinfo=None), "us") + np.tile(
        np.arange(hours, dtype="int64") * 3_600_000_000, assets
    ).astype("timedelta64[us]")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    spread = np.abs(rng.normal(0, 0.001, n)) * close
    return pa.table(
        {
            "asset_id": pa.array(np.repeat([f"asset{i:03d}" for i in range(assets)], hours)),
            "resolution": pa.array(np.full(n, "1h")),
            "ts": pa.array(stamps, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
            "open": pa.array(close * (1 + rng.normal(0, 0.0005, n))),
            "high": pa.array(close + spread),
            "low": pa.array(close - spread),
            "close": pa.array(close),
            "volume": pa.array(rng.gamma(2.0, 1000.0, n)),
        },
        schema=OHLCV_SCHEMA,
    )


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def psql_copy(psql: str, dsn: str, csv_path: Path) -> None:
    columns = ", ".join(OHLCV_SCHEMA.names)
    command = f"\\copy ohlcv_copy ({columns}) FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"
    subprocess.run([psql, dsn, "-v", "ON_ERROR_STOP=1", "-qc", command], check=True)


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        return f"TimescaleDB {row[0] if row else '?'}, PostgreSQL {conn.info.server_version}"


def run(dsn: str, bars: pa.Table, psql: str, tmp: Path, rounds: int) -> dict[str, list[float]]:
    """Seconds of each load per round; ``ohlcv`` and its copy emptied before each round."""
    csv_path = tmp / "bars.csv"
    pacsv.write_csv(bars, csv_path)
    seconds: dict[str, list[float]] = {"fresh": [], "replay": [], "baseline": []}
    store = TimescaleStore(dsn, pool_max=2)

    def load() -> None:
        upsert_in_batches(store, lambda s, t: s.upsert_ohlcv(t), bars)

    with store, psycopg.connect(dsn, autocommit=True) as conn:
        store.migrate()
        conn.execute("CREATE TABLE ohlcv_copy (LIKE ohlcv INCLUDING ALL)")
        conn.execute("SELECT create_hypertable('ohlcv_copy', by_range('ts', INTERVAL '30 days'))")
        for _ in range(rounds):
            conn.execute("TRUNCATE ohlcv, ohlcv_copy")
            seconds["baseline"].append(timed(lambda: psql_copy(psql, dsn, csv_path)))
            seconds["fresh"].append(timed(load))
            seconds["replay"].append(timed(load))
            for table in ("ohlcv", "ohlcv_copy"):
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                assert conn.execute(query).fetchone() == (bars.num_rows,), table
        print(f"server: {server_version(dsn)} ({store.edition} edition)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--hours", type=int, default=20_000, help="bars per asset")
    parser.add_argument("--psql", default=shutil.which("psql") or "psql")
    parser.add_argument("--dsn", default=get_settings().serving.timescale_dsn)
    parser.add_argument("--rounds", type=int, default=1, help="runs of all three, in turn")
    args = parser.parse_args()

    bars = gold_bars(args.assets, args.hours)
    admin = make_conninfo(args.dsn, dbname="postgres")
    name = f"rwa_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = run(
                make_conninfo(args.dsn, dbname=name), bars, args.psql, Path(tmp), args.rounds
            )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    host = conninfo_to_dict(args.dsn).get("host")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; server on {host}; psql: {args.psql}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"input: {args.assets} assets x {args.hours} hourly bars = {bars.num_rows:,} gold rows")
    report(seconds, bars.num_rows)


def report(seconds: dict[str, list[float]], rows: int) -> None:
    """Each round's ratios, then the best time of each load and the ratios of those."""
    labels = {"fresh": "store, fresh ", "replay": "store, replay", "baseline": "psql \\copy   "}
    for i, baseline in enumerate(seconds["baseline"]):
        fresh, replay = seconds["fresh"][i], seconds["replay"][i]
        print(
            f"round {i + 1}: fresh {fresh:.1f} s, replay {replay:.1f} s, psql {baseline:.1f} s: "
            f"ratios {baseline / fresh:.2f}x, {baseline / replay:.2f}x"
        )
    best = {label: min(times) for label, times in seconds.items()}
    rates = {label: rows / s for label, s in best.items()}
    for label, text in labels.items():
        print(f"{text}: {best[label]:6.1f} s = {rates[label]:>9,.0f} rows/s (best)")
    print(f"ratio store fresh / psql \\copy: {rates['fresh'] / rates['baseline']:.2f}x")
    print(f"ratio store replay / psql \\copy: {rates['replay'] / rates['baseline']:.2f}x")


if __name__ == "__main__":
    main()
