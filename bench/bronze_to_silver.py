"""Benchmark: bronze -> silver prices throughput, beside a single-process baseline.

Lands simulated bronze (CoinAPI-shaped price envelopes) in a temp lake, then measures, on the
same files in the same run:

* **silver job**: the real `SilverPricesJob` (Spark Structured Streaming, validation,
  quarantine, dedup, Delta MERGE through delta-rs), from a cold checkpoint;
* **baseline**: one Python process that reads the same JSON lines with `json.loads`, flattens
  the bars into an Arrow table and appends it to a Delta table with no validation, no
  dedup and no MERGE -- the least work that still ends in a Delta table.

Prints bars/s for both and their ratio. Usage:
    .venv/bin/python bench/bronze_to_silver.py [--assets 27] [--days 180]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from pipelines import jobs
from pipelines.core.settings import Settings
from pipelines.lake.spark import get_spark


def land(settings: Settings) -> int:
    report = jobs.land_simulated(settings)
    return report.records


def baseline(bronze: Path, target: Path) -> int:
    columns: dict[str, list[object]] = {
        k: [] for k in ("symbol_id", "ts", "open", "high", "low", "close", "volume")
    }
    for path in sorted(bronze.glob("source=*/dataset=prices/date=*/*.jsonl")):
        for line in path.read_text().splitlines():
            envelope = json.loads(line)
            symbol = envelope["params"]["symbol_id"]
            for bar in envelope["payload"]:
                columns["symbol_id"].append(symbol)
                columns["ts"].append(bar["time_period_start"])
                columns["open"].append(float(bar["price_open"] or "nan"))
                columns["high"].append(float(bar["price_high"] or "nan"))
                columns["low"].append(float(bar["price_low"] or "nan"))
                columns["close"].append(float(bar["price_close"] or "nan"))
                columns["volume"].append(float(bar["volume_traded"] or 0))
    table = pa.table(columns)
    write_deltalake(str(target), table, mode="append")
    return table.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=27, help="number of reference assets")
    parser.add_argument("--days", type=int, default=180)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            lake_root=str(root / "lake"),
            state_dir=root / "state",
            sim_days=args.days,
            sim_end=dt.date(2026, 1, 1),
            sim_assets=[a.asset_id for a in jobs.load_assets()[: args.assets]],
        )
        envelopes = land(settings)
        started = time.perf_counter()
        get_spark(settings)
        spark_start = time.perf_counter() - started

        started = time.perf_counter()
        report = jobs.run_silver_prices(settings)
        job_seconds = time.perf_counter() - started

        started = time.perf_counter()
        base_rows = baseline(root / "lake" / "bronze", root / "baseline")
        base_seconds = time.perf_counter() - started

    job_rate = report.bars_in / job_seconds
    base_rate = base_rows / base_seconds
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"input: {args.assets} assets x {args.days} days hourly = {envelopes:,} envelopes")
    print(f"spark session start: {spark_start:.1f} s (not counted below)")
    print(
        f"silver job : {report.bars_in:>9,} bars in {job_seconds:6.1f} s = "
        f"{job_rate:>9,.0f} bars/s "
        f"({report.batches} micro-batches, {report.quarantined} quarantined)"
    )
    print(f"baseline   : {base_rows:>9,} bars in {base_seconds:6.1f} s = {base_rate:>9,.0f} bars/s")
    print(f"ratio silver job / baseline: {job_rate / base_rate:.2f}x")


if __name__ == "__main__":
    main()
