"""Benchmark: the forecasting step on an existing lake, one process vs worker processes vs Spark.

Runs ``forecast_lake`` (ARIMA, as ``rwa forecast`` does) on the lake of the current settings
(``RWA_LAKE_ROOT``, e.g. a folder where ``rwa demo`` ran) several times, the variants
interleaved in each round so that they share the machine's load:

* **loop**: one asset after another in this process (``RWA_FORECAST_PROCESSES=1``);
* **processes**: this process and worker processes side by side (``--processes``, default one
  per core; :mod:`models.forecast.processes`);
* **spark**: an ``applyInPandas`` group per asset in the Spark session's executors
  (``RWA_FORECAST_ON_SPARK``), the session started and warmed before the first round as it is
  in the demo, with the seconds of converting ``gold/ohlcv_1d`` to a Spark frame apart.

Every variant's registered versions and metrics must equal the loop's (checked). The lake
already holds the forecasts (rerunning writes nothing new), so every run does the same writes.
Usage: RWA_LAKE_ROOT=<demo>/data/lake .venv/bin/python bench/forecast_step.py [--rounds 2]
[--processes N] [--no-spark]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable

from models.forecast import distributed
from models.forecast.batch import ForecastRunReport, _daily_closes, _gold_daily, forecast_lake
from pipelines.core.settings import Settings
from pipelines.lakehouse import Lakehouse
from pipelines.steps import model_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--spark-tasks-per-core", type=int, nargs="*", default=[])
    args = parser.parse_args()

    lakehouse = Lakehouse.from_settings(Settings())
    lake, paths, assets = lakehouse.delta, lakehouse.paths, lakehouse.assets
    registry = model_registry(lakehouse)
    print(f"lake {lakehouse.settings.lake.root}: {len(_daily_closes(lake, paths))} daily bars")

    def run(**kwargs: object) -> Callable[[], ForecastRunReport]:
        return lambda: forecast_lake(lake, paths, assets, registry, **kwargs)  # type: ignore[arg-type]

    variants: dict[str, Callable[[], ForecastRunReport]] = {
        "loop": run(processes=1),
        f"processes={args.processes}": run(processes=args.processes),
    }
    if not args.no_spark:
        spark = lakehouse.spark
        spark.range(10_000).selectExpr("sum(id)").collect()  # started and warm, as in the demo
        variants["spark"] = run(spark=spark)
        for per_core in args.spark_tasks_per_core:

            def tuned(per_core: int = per_core) -> ForecastRunReport:
                saved, distributed.TASKS_PER_CORE = distributed.TASKS_PER_CORE, per_core
                try:
                    return forecast_lake(lake, paths, assets, registry, spark=spark)
                finally:
                    distributed.TASKS_PER_CORE = saved

            variants[f"spark, {per_core} task(s)/core"] = tuned
        started = time.perf_counter()
        lake.to_spark(spark, _gold_daily(lake, paths)).count()
        print(f"gold/ohlcv_1d to a Spark frame and counted: {time.perf_counter() - started:.2f} s")

    reference: ForecastRunReport | None = None
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for name, variant in variants.items():
            load = os.getloadavg()[0]
            started = time.perf_counter()
            report = variant()
            elapsed = time.perf_counter() - started
            seconds[name].append(elapsed)
            if reference is None:
                reference = report
            same = (report.forecasts, report.metrics) == (reference.forecasts, reference.metrics)
            print(
                f"round {round_ + 1}  {name:<24} {elapsed:6.2f} s  load {load:.2f}  "
                f"{len(report.forecasts)} assets  same as the loop: {same}"
            )
            if not same:
                raise SystemExit(f"{name} differs from the loop")
    print("\nseconds per variant (each round):")
    base = seconds["loop"]
    for name, values in seconds.items():
        ratio = ", ".join(f"{v / b:.2f}x" for v, b in zip(values, base, strict=True))
        print(f"  {name:<24} {', '.join(f'{v:.2f}' for v in values)}   vs loop {ratio}")
    # (a child's peak RSS is not reported: Linux starts it at the parent's at fork)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {own:.0f} MiB")


if __name__ == "__main__":
    main()
