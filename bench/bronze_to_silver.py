"""Benchmark: bronze -> silver prices throughput, beside a single-process pyarrow baseline.

Lands simulated bronze price envelopes (CoinAPI shape; 27 assets x 2,315 days of hourly bars is
about 1.5 million bars) in a temp lake, then measures, on the same files in the same run:

* **silver job**: the real generic silver job for ``prices`` on the engine the settings choose
  (``RWA_SILVER_ENGINE``; ``auto`` is the in-process DuckDB engine on a local master: the bronze
  objects batched without Spark, each batch parsed, checked, gated and staged as Parquet by
  DuckDB; ``spark`` is Structured Streaming with the same steps as Spark jobs), then
  quarantine, the latest fetch per key, the delta-rs MERGE with the transaction guard and the
  reconciliation ledger, from a cold checkpoint;
* **baseline**: one Python process parsing the same files with pyarrow's JSON reader,
  flattening the bars into one Arrow table with vectorised casts and appending it to a Delta
  table -- no validation, no gate, no dedup, no MERGE, no exactly-once bookkeeping.

On the Spark engine the driver runs with HotSpot's two compilers
(``RWA_SPARK_DRIVER_JAVA_OPTIONS`` empty unless set), as that setting advises for long runs,
and the session starts before the clock does. Prints the engine, bars/s for both and their
ratio.
Usage:
    .venv/bin/python bench/bronze_to_silver.py [--assets 27] [--days 2315]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from deltalake import write_deltalake

from pipelines import steps
from pipelines.bronze.writer import BronzeWriter
from pipelines.core.settings import Settings
from pipelines.ingestion.simulated import SimulatedSource
from pipelines.lake.objects import open_object_store
from pipelines.lake.spark import driver_java_options, get_spark
from pipelines.lakehouse import Lakehouse
from pipelines.reference import load_assets

PRICE_FIELDS = ("price_open", "price_high", "price_low", "price_close", "volume_traded")


def land_prices(settings: Settings) -> int:
    source = SimulatedSource.from_settings(settings.simulation, load_assets())
    source.datasets = ("prices",)
    return (
        BronzeWriter(open_object_store(settings.lake)).land(source.collect(source.window)).records
    )


def baseline(bronze: Path, target: Path) -> int:
    """pyarrow reads each JSON-lines object, explodes the bars and casts them, in C++."""
    parts = []
    for path in sorted(bronze.glob("source=*/dataset=prices/date=*/*.jsonl")):
        envelopes = pa_json.read_json(path)
        bars = envelopes.column("payload")
        lengths = pc.list_value_length(bars)
        symbols = pc.struct_field(envelopes.column("params"), "symbol_id")
        flat = pc.list_flatten(bars)
        columns = {
            "symbol_id": pc.take(symbols, pc.list_parent_indices(bars)),
            "ts": pc.cast(
                pc.utf8_slice_codeunits(pc.struct_field(flat, "time_period_start"), 0, 19),
                pa.timestamp("s"),
            ),
            **{name: pc.cast(pc.struct_field(flat, name), pa.float64()) for name in PRICE_FIELDS},
        }
        assert pc.sum(lengths).as_py() == len(flat)
        parts.append(pa.table(columns))
    table = pa.concat_tables(parts)
    write_deltalake(str(target), table, mode="append")
    return table.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--assets", type=int, default=27, help="number of reference assets")
    parser.add_argument("--days", type=int, default=2315)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            lake_root=str(root / "lake"),
            state_dir=root / "state",
            sim_days=args.days,
            sim_end=dt.date(2026, 1, 1),
            # pyarrow's JSON reader refuses a field that is a number in one row and a string in
            # another (the simulator's numeric-string defect): clean input for both sides.
            sim_fault_rate=0.0,
            sim_assets=[a.asset_id for a in load_assets()[: args.assets]],
            # A run over millions of records: HotSpot's optimising compiler pays for itself, as
            # the setting's description advises (unset, a local master gets C1 only).
            spark_driver_java_options=os.environ.get("RWA_SPARK_DRIVER_JAVA_OPTIONS", ""),
        )
        envelopes = land_prices(settings)
        lakehouse = Lakehouse.from_settings(settings)
        engine = steps.silver_engine(lakehouse)
        started = time.perf_counter()
        if engine == "spark":
            get_spark(settings.spark)
        spark_start = time.perf_counter() - started

        started = time.perf_counter()
        report = steps.run_silver(lakehouse, "prices")
        job_seconds = time.perf_counter() - started

        started = time.perf_counter()
        base_rows = baseline(root / "lake" / "bronze", root / "baseline")
        base_seconds = time.perf_counter() - started

    job_rate = report.records_in / job_seconds
    base_rate = base_rows / base_seconds
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"input: {args.assets} assets x {args.days} days hourly = {envelopes:,} envelopes")
    print(f"silver engine: {engine} (RWA_SILVER_ENGINE={settings.spark.silver_engine})")
    if engine == "spark":
        print(f"spark session start: {spark_start:.1f} s (not counted below)")
        options = driver_java_options(settings.spark) or "(none: C1 and C2)"
        print(f"driver JVM options: {options}")
    print(
        f"silver job : {report.records_in:>10,} bars in {job_seconds:6.1f} s = "
        f"{job_rate:>9,.0f} bars/s "
        f"({report.batches} micro-batches, {report.quarantined} quarantined)"
    )
    print(
        f"baseline   : {base_rows:>10,} bars in {base_seconds:6.1f} s = {base_rate:>9,.0f} bars/s"
    )
    print(f"ratio silver job / baseline: {job_rate / base_rate:.2f}x")


if __name__ == "__main__":
    main()
