"""The Spark session every step in this process shares.

Session start costs 5-10 s, so one session is built per process and reused. Delta tables are
written natively by delta-spark when its JARs are on the classpath (a production cluster) and
through delta-rs otherwise (see :mod:`pipelines.lake.delta`).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.core.settings import SparkSettings

if TYPE_CHECKING:  # imported on first use: processes that never start Spark skip its import
    from pyspark.sql import SparkSession

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"

_lock = threading.Lock()

#: HotSpot's quick compiler (C1) only, for a local master's driver, which is also its executor
#: and lives for one command. In one `rwa silver` of the demo HotSpot compiled about 32,000
#: methods, 53 s of compiler time on two cores, most of it C2's: with C1 only the demo took
#: 72-74 s instead of 80-92 s, while the 1.5M-bar silver benchmark took 125 s instead of 103 s
#: (docs/benchmarks.md, session 13): long local runs should set RWA_SPARK_DRIVER_JAVA_OPTIONS="".
#: With C1 alone HotSpot reserves 48 MB for compiled code, as for a client JVM: the demo filled
#: it during gold, and HotSpot then stopped compiling ("CodeCache is full. Compiler has been
#: disabled"), running the rest of the command interpreted. 240 MB is the tiered default.
LOCAL_JIT = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"


def _delta_jars_on_classpath() -> bool:
    """delta-spark ships only Python code on PyPI; its JARs come from the cluster: Spark's own
    jars folder (SPARK_HOME or the pyspark package) or an extra classpath."""
    import pyspark

    folders = [Path(pyspark.__file__).parent / "jars"]
    if os.environ.get("SPARK_HOME"):
        folders.append(Path(os.environ["SPARK_HOME"]) / "jars")
    if any(next(folder.glob("delta-spark_*.jar"), None) for folder in folders if folder.is_dir()):
        return True
    extra = os.environ.get("SPARK_DIST_CLASSPATH", "") + os.environ.get("SPARK_CLASSPATH", "")
    return "delta-spark" in extra


def wants_native_delta(spark: SparkSettings) -> bool:
    if spark.delta_backend == "auto":
        return _delta_jars_on_classpath()
    return spark.delta_backend == "native"


def get_spark(settings: SparkSettings) -> SparkSession:
    """The process-wide session, created on first use with the project's configuration."""
    from pyspark.sql import SparkSession

    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        # Python workers must run the interpreter of this venv, not whatever `python3` is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = SparkSession.builder.appName("rwa-lakehouse").master(settings.master)
        for key, value in _spark_conf(settings).items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark


def driver_java_options(settings: SparkSettings) -> str:
    """``RWA_SPARK_DRIVER_JAVA_OPTIONS``, or when unset the JIT choice for the master: C1 only
    on a local master, the JVM's default (C1 then C2) elsewhere."""
    if settings.driver_java_options is not None:
        return settings.driver_java_options.strip()
    return LOCAL_JIT if settings.master.startswith("local") else ""


def local_threads(master: str) -> int | None:
    """The worker threads of a local master (``local``: 1, ``local[4]``: 4, ``local[*]``: every
    core, as None); None for a cluster. The in-process engines take as many, so ``local[1]``
    means one core whichever engine runs."""
    if master == "local":
        return 1
    found = re.fullmatch(r"local\[(\d+)(,\d+)?\]", master)
    return int(found.group(1)) if found else None


def _spark_conf(settings: SparkSettings) -> dict[str, str]:
    conf = {
        # Delta and Arrow timestamps are UTC instants; the session must not shift them.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        # Adaptive execution runs each shuffle stage as a job of its own to re-plan the next
        # from its statistics: on one machine's few partitions there is nothing to re-plan, and
        # gold ran 42 Spark jobs instead of 20 (a gold run 50 s -> 27 s, load 13).
        "spark.sql.adaptive.enabled": str(settings.adaptive).lower(),
        "spark.driver.memory": settings.driver_memory,
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
        # Checkpoints live in the local state folder (RWA_STATE_DIR). Spark's default manager
        # goes through Hadoop's FileContext, whose rename on a local disk forks a `readlink`
        # process for each file it writes: 391 processes in one `rwa silver` of the demo.
        # FileSystem's rename is the same atomic rename(2) without them.
        "spark.sql.streaming.checkpointFileManagerClass": (
            "org.apache.spark.sql.execution.streaming.checkpointing."
            "FileSystemBasedCheckpointFileManager"
        ),
        # PySpark's DataFrame debugging records the Python call site of every Column function
        # in the JVM (four extra round trips per call): a silver micro-batch builds its parse
        # plan from ~900 of them, which took 45% longer (1.4 s instead of 0.7 s per dataset).
        # Spark's own errors still name the failing expression; only the Python line is lost.
        "spark.python.sql.dataFrameDebugging.enabled": "false",
        # A map built from data with a repeated key keeps the last value instead of failing the
        # whole micro-batch (parsers that build maps reverse their entries: first one wins).
        "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
        # Bronze has a folder per source/dataset/day: past 32 folders Spark would list them
        # with a distributed job (one task per folder), seconds of overhead on every trigger.
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
        # HotSpot never JIT-compiles a method over 8,000 bytes of bytecode, and the whole-stage
        # code of a silver parse has 18-25 kB methods: interpreted, it parsed 194k bars in
        # 8.8 s. Past this limit Spark generates code per operator instead, in small methods
        # the JIT compiles: 5.4 s (idle, warm JVM, docs/benchmarks.md).
        "spark.sql.codegen.hugeMethodLimit": "8000",
        # Staged silver batches are read back by pyarrow and delta-rs: instants as the Parquet
        # type they read as UTC microseconds (Spark's default, INT96, is a legacy encoding).
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # Spark would otherwise resolve a hostname that may not be routable in a sandbox; on
        # Kubernetes the executors reach the driver at its pod's address.
        "spark.driver.host": settings.driver_host,
        "spark.driver.bindAddress": settings.driver_bind_address,
    }
    java_options = driver_java_options(settings)
    if java_options:
        conf["spark.driver.extraJavaOptions"] = java_options
    if wants_native_delta(settings):
        conf["spark.sql.extensions"] = DELTA_EXTENSION
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
    return conf
