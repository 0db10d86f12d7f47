"""`rwa ingest --bus kafka` and `rwa land` end to end, as a user runs them."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.core.settings import Settings
from pipelines.lake.objects import LocalObjectStore
from tests.fixtures.kafka import KafkaBroker
from tests.pipelines.kafka.support import bronze_lines, simulated_envelopes

RWA = str(Path(sys.executable).with_name("rwa"))
WINDOW = ["--days", "2", "--end", "2025-01-10"]


def rwa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RWA, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | env,
    )


def wait_until_stable(count: Callable[[], int], quiet_s: float = 1.5, timeout_s: float = 30) -> int:
    """Wait until ``count()`` is positive and unchanged for ``quiet_s``; return it."""
    deadline = time.monotonic() + timeout_s
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif now and time.monotonic() - since >= quiet_s:
            return now
    raise AssertionError(f"bronze did not settle within {timeout_s} s (last count {last})")


def test_ingest_over_kafka_then_land_until_sigterm_lands_each_envelope_once(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    env = {
        "RWA_LAKE_ROOT": str(tmp_path / "lake"),
        "RWA_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
    }
    published = rwa("ingest", "--source", "simulated", "--bus", "kafka", *WINDOW, env=env)
    assert published.returncode == 0, published.stderr
    match = re.search(r"published ([\d,]+) envelopes to Kafka", published.stdout)
    assert match, published.stdout
    count = int(match.group(1).replace(",", ""))
    expected = simulated_envelopes(Settings(sim_days=2, sim_end=dt.date(2025, 1, 10)))
    assert count == len(expected)

    # Small batches by count, and no rotation by time: what is left in the buffers when the
    # stream dries up is landed only by the graceful stop that SIGTERM asks for.
    store = LocalObjectStore(tmp_path / "lake")
    lander_env = env | {"RWA_LANDER_MAX_RECORDS": "7", "RWA_LANDER_MAX_INTERVAL_S": "600"}
    with subprocess.Popen(
        [RWA, "land", "--session-timeout-ms", "2000"],
        env=os.environ | lander_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as lander:
        try:
            before_stop = wait_until_stable(lambda: len(bronze_lines(store)))
        finally:
            lander.send_signal(signal.SIGTERM)
            stdout, stderr = lander.communicate(timeout=30)
    assert lander.returncode == 0, stderr
    assert before_stop < count, (before_stop, count, stdout)
    assert f"landed {count:,} envelopes from Kafka" in stdout, (before_stop, count)
    assert sorted(bronze_lines(store)) == sorted(e.to_json_line() for e in expected)

    again = rwa("land", "--idle-exit", "0.5", "--session-timeout-ms", "2000", env=env)
    assert again.returncode == 0, again.stderr
    assert "landed 0 envelopes" in again.stdout


def test_unknown_source_is_a_one_line_error_listing_the_known_ones(tmp_path: Path) -> None:
    done = rwa("ingest", "--source", "nope", env={"RWA_LAKE_ROOT": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "unknown source 'nope'" in done.stderr
    assert "simulated" in done.stderr
