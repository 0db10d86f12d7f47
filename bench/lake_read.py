"""Benchmark: one asset-year of hourly gold bars read with the one-line lake access, beside
``deltalake`` + ``pyarrow`` used directly, in the same run on the same table.

Writes ``gold/ohlcv_1h`` into a temporary lake as gold lays it out (the gold OHLCV columns,
one ``date=`` partition per day, every asset's bars of a day in that day's file) for
``--assets`` assets over ``--days`` days, then times, alternating the two in each of
``--repeat`` rounds (the median is printed):

* **lake access**: ``open_lake(root).read_arrow("gold/ohlcv_1h", asset=..., start=..., end=...)``
  (and ``.read(...)`` for pandas): the table name resolved from the registry, columns and
  filters checked against the Delta schema, the filter built and pushed down;
* **baseline**: ``DeltaTable(uri).to_pyarrow_dataset().to_table(filter=...)`` with the same
  filter written by hand (and ``.to_pandas()``).

Both open the table (read its Delta log) on every call, as a notebook cell does. Usage:
    .venv/bin/python bench/lake_read.py [--assets 27] [--days 365] [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import deltalake
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable, write_deltalake

from pipelines.lake.access import open_lake

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
UTC_TS = pa.timestamp("us", tz="UTC")


def environment() -> str:
    """The date, machine and library versions a result was measured with."""
    return (
        f"{dt.date.today()} {platform.platform()} {platform.processor() or platform.machine()} "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, deltalake "
        f"{deltalake.__version__}, pyarrow {pa.__version__}"
    )


def hourly_bars(assets: int, days: int) -> pa.Table:
    """Random-walk hourly bars with gold's ``ohlcv_1h`` columns, asset ids ``a00``, ``a01``..."""
    rng = np.random.default_rng(7)
    hours = days * 24
    stamps = np.arange(hours, dtype="int64") * 3_600_000_000 + int(START.timestamp() * 1e6)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (assets, hours)), axis=1)).ravel()
    ts = pa.array(np.tile(stamps, assets), UTC_TS)
    return pa.table(
        {
            "asset_id": pa.array(np.repeat([f"a{i:02d}" for i in range(assets)], hours)),
            "resolution": pa.array(["1h"] * (assets * hours)),
            "ts": ts,
            "open": pa.array(close * 0.999),
            "high": pa.array(close * 1.002),
            "low": pa.array(close * 0.997),
            "close": pa.array(close),
            "volume": pa.array(rng.uniform(1e3, 1e6, assets * hours)),
            "trades": pa.array(rng.integers(1, 500, assets * hours)),
            "source_bars": pa.array(np.full(assets * hours, 60), pa.int64()),
            "date": ts.cast(pa.date32()),
        }
    )


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=27)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(environment())
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "lake"
        uri = str(root / "gold" / "ohlcv_1h")
        table = hourly_bars(args.assets, args.days)
        write_deltalake(uri, table, partition_by=["date"])
        files = len(DeltaTable(uri).file_uris())
        print(f"gold/ohlcv_1h: {table.num_rows:,} bars, {args.assets} assets, {files} files")
        end = START + dt.timedelta(days=args.days)
        asset = f"a{args.assets // 2:02d}"  # a13 of the default 27
        lake = open_lake(root)

        def baseline() -> pa.Table:
            window = (ds.field("ts") >= pa.scalar(START, UTC_TS)) & (
                ds.field("ts") < pa.scalar(end, UTC_TS)
            )
            dataset = DeltaTable(uri).to_pyarrow_dataset()
            return dataset.to_table(filter=(ds.field("asset_id") == asset) & window)

        def access() -> pa.Table:
            return lake.read_arrow("gold/ohlcv_1h", asset=asset, start=START, end=end)

        pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "Arrow": (access, baseline),
            "pandas": (
                lambda: lake.read("gold/ohlcv_1h", asset=asset, start=START, end=end),
                lambda: baseline().to_pandas(),
            ),
        }
        report(pairs, args.repeat, args.days * 24)


def report(
    pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]], repeat: int, rows: int
) -> None:
    print(f"{'output':<7} {'lake access s':>13} {'baseline s':>11} {'ratio':>6} {'rows':>7}")
    for output, (access, baseline) in pairs.items():
        mine: list[float] = []
        theirs: list[float] = []
        for _ in range(repeat):
            seconds, got = timed(access)
            mine.append(seconds)
            seconds, want = timed(baseline)
            theirs.append(seconds)
            assert len(got) == len(want) == rows, (len(got), len(want), rows)
        ours, base = statistics.median(mine), statistics.median(theirs)
        print(f"{output:<7} {ours:>13.4f} {base:>11.4f} {ours / base:>5.2f}x {rows:>7,}")


if __name__ == "__main__":
    main()
