"""The shared Spark session's JVM options and the settings that choose them."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from pipelines.core.settings import Settings
from pipelines.lake.spark import LOCAL_JIT, driver_java_options, local_threads
from tests.fixtures.lake import suite_spark_settings


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, LOCAL_JIT),
        ({"spark_master": "local[1]"}, LOCAL_JIT),
        ({"spark_master": "k8s://https://api.example:6443"}, ""),
        ({"spark_master": "spark://spark-master:7077"}, ""),
        ({"spark_driver_java_options": ""}, ""),
        ({"spark_driver_java_options": "  -Xss4m -XX:+UseSerialGC "}, "-Xss4m -XX:+UseSerialGC"),
        (
            {"spark_master": "spark://spark-master:7077", "spark_driver_java_options": "-Xss4m"},
            "-Xss4m",
        ),
    ],
)
def test_driver_java_options_follow_the_master_unless_set(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str], expected: str
) -> None:
    monkeypatch.delenv("RWA_SPARK_DRIVER_JAVA_OPTIONS", raising=False)
    monkeypatch.delenv("RWA_SPARK_MASTER", raising=False)
    assert driver_java_options(Settings(**overrides).spark) == expected  # type: ignore[arg-type]


def test_the_environment_variable_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RWA_SPARK_DRIVER_JAVA_OPTIONS", "-XX:+UseParallelGC")
    assert driver_java_options(Settings().spark) == "-XX:+UseParallelGC"
    monkeypatch.setenv("RWA_SPARK_DRIVER_JAVA_OPTIONS", "")
    assert driver_java_options(Settings().spark) == ""


def test_the_running_driver_jvm_has_them(spark: SparkSession) -> None:
    """The options reach the JVM spark-submit starts, not only Spark's configuration."""
    expected = driver_java_options(suite_spark_settings()).split()
    assert expected
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory  # type: ignore[union-attr]
    arguments = list(runtime.getRuntimeMXBean().getInputArguments())
    assert all(option in arguments for option in expected), arguments


def test_streaming_checkpoints_use_the_file_system_manager(spark: SparkSession) -> None:
    manager = spark.conf.get("spark.sql.streaming.checkpointFileManagerClass")
    assert manager is not None and manager.endswith(".FileSystemBasedCheckpointFileManager")


@pytest.mark.parametrize(
    ("master", "threads"),
    [("local", 1), ("local[1]", 1), ("local[2]", 2), ("local[4,3]", 4), ("local[*]", None)],
)
def test_the_in_process_engines_take_a_local_master_s_threads(
    master: str, threads: int | None
) -> None:
    assert local_threads(master) == threads


def test_a_cluster_master_sets_no_local_threads() -> None:
    assert local_threads("spark://head:7077") is None
    assert local_threads("k8s://https://api:6443") is None
