"""A silver run in a child process, on a test's lake: a crash (``os._exit``) kills a process
as a real one would, with nothing cleaned up after it."""

from __future__ import annotations

import os
import subprocess
import sys

from pipelines.core.settings import Settings


def run_silver_child(
    settings: Settings, script: str, *args: str
) -> subprocess.CompletedProcess[bytes]:
    """Run ``script`` (Python source; ``sys.argv[1:]`` are ``args``) with ``settings`` as its
    environment's settings; its exit status and output come back."""
    env = os.environ | {
        "RWA_LAKE_ROOT": settings.lake.root,
        "RWA_STATE_DIR": str(settings.lake.state_dir),
        "RWA_SILVER_MAX_FILES_PER_TRIGGER": str(settings.spark.silver_max_files_per_trigger),
        "RWA_DELTA_PARTITIONS_PER_WRITE": str(settings.lake.delta_partitions_per_write),
        "RWA_QUALITY_MAX_FAILURE_SHARE": str(settings.quality.max_failure_share),
        "RWA_SPARK_SHUFFLE_PARTITIONS": "2",
        "RWA_SILVER_ENGINE": settings.spark.silver_engine,
    }
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
