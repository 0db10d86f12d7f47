"""Benchmark: how the whole pipeline's cost grows with its input.

Runs the demo's steps (simulate -> bronze -> silver -> gold -> forecasts -> sentiment -> risk
-> serving, :data:`pipelines.demo.DEMO_STEPS`) at several multiples of the demo's size, each
size in a fresh process on a fresh lake and store, and prints per stage the seconds and the
peak memory of the driver (the Python process, where anything collected lands), of the JVM
(in ``local[N]`` mode Spark's driver and executors share it; its heap is capped by
``RWA_SPARK_DRIVER_MEMORY``) and of the Python worker processes (the silver step's executor,
the forecasts' fitting workers), with the growth factor between sizes beside the growth of the
input, and whether the driver's peak stays flat (within 10%) from the smallest size to the
largest. The demo's 27 assets are all the simulator has, so sizes grow days and bar frequency:

* **1x**: the demo: 90 days of hourly bars;
* **4x**: 360 days of hourly bars;
* **16x**: 360 days of 15-minute bars (16x the demo's bars; daily bars, news and forecasts
  grow 4x).

Then the silver step alone on the largest size's bronze with ``local[1]`` and ``local[2]`` (the
speed-up from a second core). A ``local[N]`` run with fewer cores than the machine has is bound to
its first N cores (``sched_setaffinity``): the master's N sets the engine's own threads (DuckDB's,
Spark's task slots), but delta-rs, Arrow and the bronze read-ahead have threads of their own, so
only a bound process measures what N cores do. A stage grows "linear or better" when its time grows
at most as fast as its input (10% allowance for noise). Usage:

    .venv/bin/python bench/scale.py [--sizes 1,4,16] [--masters local[1],local[2]]
        [--plot docs/benchmarks/scale.svg]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

#: Size factor -> (simulated days, bar frequency), relative to the demo's 90 days of 1h bars.
SIZES: dict[int, tuple[int, str]] = {1: (90, "1h"), 4: (360, "1h"), 16: (360, "15m")}
#: A fixed last day, so every size simulates the same calendar and reruns are identical.
SIM_END = "2026-12-01"
SILVER = "bronze -> silver"
#: Noise allowance before a stage's growth counts as faster than its input's, and before the
#: driver's peak counts as growing.
ALLOWANCE = 1.10


@dataclass
class StageRun:
    seconds: float
    driver_mb: float
    jvm_mb: float
    workers_mb: float


class PeakMemory:
    """Samples the RSS of this process, of its Java child (Spark's JVM) and of its Python
    children (the silver executor, forecasting workers) every 50 ms."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._driver = self._jvm = self._workers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            driver = self._me.memory_info().rss
            jvm = workers = 0
            for child in self._me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                    if "java" in child.name():
                        jvm += rss
                    else:
                        workers += rss
                except psutil.NoSuchProcess:
                    continue
            self._driver, self._jvm = max(self._driver, driver), max(self._jvm, jvm)
            self._workers = max(self._workers, workers)

    def peaks(self) -> tuple[float, float, float]:
        return self._driver / 2**20, self._jvm / 2**20, self._workers / 2**20

    def reset(self) -> None:
        self._driver = self._jvm = self._workers = 0

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def child_env(root: Path, days: int, frequency: str, master: str) -> dict[str, str]:
    """The settings of one run: its own lake, state, stores; the simulated size."""
    return {
        **os.environ,
        "RWA_LAKE_ROOT": str(root / "lake"),
        "RWA_STATE_DIR": str(root / "state"),
        "RWA_DUCKDB_PATH": str(root / "serving.duckdb"),
        "RWA_OPS_DB_URL": f"sqlite:///{root / 'ops.db'}",
        "RWA_SIM_DAYS": str(days),
        "RWA_SIM_FREQUENCY": frequency,
        "RWA_SIM_END": SIM_END,
        "RWA_SPARK_MASTER": master,
        "OPENBLAS_NUM_THREADS": "1",
    }


def run_child(stages: str) -> None:
    """In the child: the named stages in order, timed, one JSON line per stage."""
    from pipelines.core.settings import Settings
    from pipelines.demo import DEMO_STEPS
    from pipelines.lakehouse import Lakehouse

    wanted = set(stages.split("|")) if stages != "all" else None
    lakehouse = Lakehouse.from_settings(Settings())
    memory = PeakMemory()
    for name, step, _ in DEMO_STEPS:
        if wanted is not None and name not in wanted:
            continue
        memory.reset()
        started = time.perf_counter()
        step(lakehouse)
        seconds = time.perf_counter() - started
        driver, jvm, workers = memory.peaks()
        row = {"stage": name, "seconds": seconds, "driver": driver, "jvm": jvm, "workers": workers}
        print(json.dumps(row))
        sys.stdout.flush()
    memory.close()


def master_cores(master: str) -> set[int] | None:
    """The cores a ``local[N]`` run is bound to: the first N this process may use; None (no
    binding) for another master or N at least the cores there are."""
    from pipelines.lake.spark import local_threads

    threads = local_threads(master)
    if threads is None or not hasattr(os, "sched_getaffinity"):
        return None
    usable = sorted(os.sched_getaffinity(0))
    if threads >= len(usable):
        return None
    return set(usable[:threads])


def run_size(
    root: Path, days: int, frequency: str, master: str, stages: str
) -> dict[str, StageRun]:
    cores = master_cores(master)
    done = subprocess.run(
        [sys.executable, __file__, "--child", stages],
        env=child_env(root, days, frequency, master),
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=None if cores is None else functools.partial(os.sched_setaffinity, 0, cores),
    )
    if done.returncode != 0:
        raise SystemExit(f"the run at {days} days of {frequency} bars failed:\n{done.stderr}")
    runs: dict[str, StageRun] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row: dict[str, Any] = json.loads(line)
            runs[row["stage"]] = StageRun(row["seconds"], row["driver"], row["jvm"], row["workers"])
    return runs


def growth(runs: dict[int, dict[str, StageRun]], stage: str) -> list[str]:
    """Each size's time over the previous size's, beside the input's growth."""
    sizes = sorted(runs)
    cells = []
    for low, high in itertools.pairwise(sizes):
        ratio = runs[high][stage].seconds / runs[low][stage].seconds
        verdict = "ok" if ratio <= (high / low) * ALLOWANCE else "FASTER THAN INPUT"
        cells.append(f"{ratio:.2f}x for {high // low}x input ({verdict})")
    return cells


def print_table(runs: dict[int, dict[str, StageRun]]) -> None:
    sizes = sorted(runs)
    head = " | ".join(f"{s}x s | {s}x driver MB | {s}x JVM MB | {s}x workers MB" for s in sizes)
    print(f"| stage | {head} | growth |")
    print("| --- |" + " ---: |" * (4 * len(sizes)) + " --- |")
    for stage in runs[sizes[0]]:
        cells = " | ".join(
            f"{runs[s][stage].seconds:.1f} | {runs[s][stage].driver_mb:,.0f} | "
            f"{runs[s][stage].jvm_mb:,.0f} | {runs[s][stage].workers_mb:,.0f}"
            for s in sizes
        )
        print(f"| {stage} | {cells} | {'; '.join(growth(runs, stage))} |")
    totals = {s: sum(r.seconds for r in runs[s].values()) for s in sizes}
    peaks = {s: max(r.driver_mb for r in runs[s].values()) for s in sizes}
    print(
        "| total | " + " | ".join(f"{totals[s]:.1f} | {peaks[s]:,.0f} | | " for s in sizes) + " |"
    )
    low, high = sizes[0], sizes[-1]
    ratio = peaks[high] / peaks[low]
    verdict = "flat" if ratio <= ALLOWANCE else "GROWS"
    print(
        f"driver peak: {peaks[low]:,.0f} MB at {low}x, {peaks[high]:,.0f} MB at {high}x: "
        f"{ratio:.2f}x for {high // low}x input ({verdict})"
    )


def plot(runs: dict[int, dict[str, StageRun]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    sizes = sorted(runs)
    figure, (times, memory) = plt.subplots(1, 2, figsize=(11, 4))
    for stage in runs[sizes[0]]:
        times.plot(sizes, [runs[s][stage].seconds for s in sizes], marker="o", label=stage)
    times.plot(sizes, [runs[sizes[0]][SILVER].seconds * s for s in sizes], "k:", label="linear")
    times.set(xscale="log", yscale="log", xlabel="input (x demo)", ylabel="seconds")
    times.legend(fontsize=7)
    for stage in runs[sizes[0]]:
        memory.plot(sizes, [runs[s][stage].driver_mb for s in sizes], marker="o", label=stage)
    memory.set(xscale="log", xlabel="input (x demo)", ylabel="driver peak RSS (MB)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    print(f"plot: {path}")


def silver_masters(largest: Path, days: int, frequency: str, masters: list[str]) -> None:
    """The silver step alone on a copy of the largest run's bronze, once per master."""
    print(f"\nsilver alone on the {days}-day {frequency} bronze:")
    seconds: dict[str, float] = {}
    for master in masters:
        with tempfile.TemporaryDirectory(prefix="rwa-scale-") as tmp:
            root = Path(tmp)
            shutil.copytree(largest / "lake" / "bronze", root / "lake" / "bronze")
            runs = run_size(root, days, frequency, master, SILVER)
        seconds[master] = runs[SILVER].seconds
        first = seconds[masters[0]]
        print(
            f"  {master:<10} {seconds[master]:7.1f} s  driver {runs[SILVER].driver_mb:,.0f} MB"
            f"  executor {runs[SILVER].workers_mb:,.0f} MB"
            f"  speed-up over {masters[0]}: {first / seconds[master]:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16")
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{time.strftime('%Y-%m-%d')} {platform.platform()}, {os.cpu_count()} cpus, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    runs: dict[int, dict[str, StageRun]] = {}
    with tempfile.TemporaryDirectory(prefix="rwa-scale-") as tmp:
        for size in sizes:
            days, frequency = SIZES[size]
            root = Path(tmp) / f"{size}x"
            started = time.perf_counter()
            runs[size] = run_size(root, days, frequency, "local[2]", "all")
            print(
                f"{size}x ({days} days of {frequency} bars): {time.perf_counter() - started:.0f} s"
            )
        print()
        print_table(runs)
        if args.plot:
            plot(runs, args.plot)
        if args.masters:
            largest = max(sizes)
            days, frequency = SIZES[largest]
            silver_masters(Path(tmp) / f"{largest}x", days, frequency, args.masters.split(","))


if __name__ == "__main__":
    main()
