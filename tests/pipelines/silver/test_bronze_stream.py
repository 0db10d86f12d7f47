"""The local bronze stream of the DuckDB engine: what Spark's file source and checkpoint do --
oldest objects first, at most maxFiles (and, here, max bytes) a batch, each batch's objects
recorded before it runs and re-run (same id, same objects) when it was not committed, a
backfill's days only, the other engine's checkpoint refused -- and the text source's lines."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from pipelines import steps
from pipelines.core.errors import ConfigurationError, RunInProgressError
from pipelines.lake.days import DayRange
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.silver.bronze_stream import (
    COMPACT_AFTER,
    SPARK_MIGRATED,
    LocalBronzeStream,
    checkpoint_lock,
    object_lines,
    refuse_local_checkpoint,
)
from pipelines.silver.reconciliation import reconcile
from tests.fixtures.lake import lake_of, lake_settings
from tests.pipelines.silver.bronze_factory import daily_envelopes, land

DAY = "2026-01-06"


def put(
    root: Path,
    name: str,
    mtime: int,
    *,
    day: str = DAY,
    source: str = "simulated",
    text: str = "{}\n",
) -> str:
    """A bronze object of prices with the given modification time (seconds)."""
    key = f"bronze/source={source}/dataset=prices/date={day}/{name}.jsonl"
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return key


def stream(
    root: Path, checkpoint: Path, max_files: int = 2, days: DayRange | None = None
) -> LocalBronzeStream:
    return LocalBronzeStream(
        root, "prices", checkpoint, max_files=max_files, days=None if days is None else days.days()
    )


def test_objects_are_taken_oldest_first_then_by_key_at_most_max_files_a_batch(
    tmp_path: Path,
) -> None:
    root, checkpoint = tmp_path / "lake", tmp_path / "checkpoint"
    c = put(root, "c", 100)
    b = put(root, "b", 200)
    a = put(root, "a", 200)  # as old as b: by key
    d = put(root, "d", 50, source="other")
    put(root, ".hidden", 10)
    put(root, "_temporary", 10)
    source = stream(root, checkpoint)

    batches = []
    for batch in source.batches():
        batches.append((batch.batch_id, batch.objects))
        source.commit(batch.batch_id)

    assert batches == [(0, (d, c)), (1, (a, b))]
    assert sorted(p.name for p in (checkpoint / "local" / "offsets").iterdir()) == ["0", "1"]
    assert sorted(p.name for p in (checkpoint / "local" / "commits").iterdir()) == ["0", "1"]
    # drained: nothing new, nothing again
    assert list(stream(root, checkpoint).batches()) == []
    e = put(root, "e", 10)  # new, although older than the others
    assert [b.objects for b in stream(root, checkpoint).batches()] == [(e,)]


def test_a_batch_holds_at_most_max_bytes_of_objects_and_at_least_one_object(
    tmp_path: Path,
) -> None:
    """The bytes bound what the in-process engine holds of a batch, whatever the count; an
    object larger than the bound is a batch of its own (never skipped, never split)."""
    root, checkpoint = tmp_path / "lake", tmp_path / "checkpoint"
    sizes = {"a": 40, "b": 40, "c": 30, "d": 250, "e": 10, "f": 10, "g": 10}
    keys = {
        name: put(root, name, 100 + n, text="x" * size)
        for n, (name, size) in enumerate(sizes.items())
    }
    source = LocalBronzeStream(root, "prices", checkpoint, max_files=2, max_bytes=100)

    batches = []
    for batch in source.batches():
        batches.append(batch.objects)
        source.commit(batch.batch_id)

    cut = [("a", "b"), ("c",), ("d",), ("e", "f"), ("g",)]
    assert batches == [tuple(keys[name] for name in names) for names in cut]


def test_a_link_to_nothing_is_not_an_object(tmp_path: Path) -> None:
    """A dangling link (or an object removed between the listing and its size) is left out,
    as Hadoop's listing leaves it out, instead of failing the run."""
    root, checkpoint = tmp_path / "lake", tmp_path / "checkpoint"
    kept = put(root, "a", 100)
    (root / kept).with_name("b.jsonl").symlink_to(root / "nowhere.jsonl")

    assert [b.objects for b in stream(root, checkpoint).batches()] == [(kept,)]


def test_a_batch_recorded_but_not_committed_runs_again_with_its_objects_and_id(
    tmp_path: Path,
) -> None:
    """A crash between the batch's offsets and its commit: the rerun takes the same objects
    under the same batch id first (the ledger and the Delta transactions make it exactly-once),
    then what landed since."""
    root, checkpoint = tmp_path / "lake", tmp_path / "checkpoint"
    first = [put(root, name, 100 + n) for n, name in enumerate("abc")]
    source = stream(root, checkpoint)
    batches = source.batches()
    zero = next(batches)
    source.commit(zero.batch_id)
    one = next(batches)  # recorded, then the process dies before its commit
    assert (zero.objects, one.objects) == (tuple(first[:2]), tuple(first[2:]))
    late = put(root, "z", 50)

    rerun = [(b.batch_id, b.objects) for b in stream(root, checkpoint).batches()]

    assert rerun == [(1, one.objects), (2, (late,))]


def test_the_offsets_of_many_committed_batches_are_folded_into_one(tmp_path: Path) -> None:
    root, checkpoint = tmp_path / "lake", tmp_path / "checkpoint"
    for n in range(COMPACT_AFTER + 2):
        put(root, f"o{n:04d}", 100 + n)
    source = stream(root, checkpoint, max_files=1)
    for batch in source.batches():
        source.commit(batch.batch_id)
    late = put(root, "late", 1)

    again = [(b.batch_id, b.objects) for b in stream(root, checkpoint).batches()]

    assert again == [(COMPACT_AFTER + 2, (late,))]
    offsets = sorted(int(p.name) for p in (checkpoint / "local" / "offsets").iterdir())
    assert offsets == [COMPACT_AFTER + 1, COMPACT_AFTER + 2]


def test_folding_keeps_a_batch_that_was_not_committed(tmp_path: Path) -> None:
    """Only committed batches are folded: one left uncommitted below the last committed batch
    (never by a run of its own; by an operator, or a crash in a removal) still runs again."""
    root, checkpoint = tmp_path / "lake", tmp_path / "checkpoint"
    for n in range(COMPACT_AFTER + 2):
        put(root, f"o{n:04d}", 100 + n)
    source = stream(root, checkpoint, max_files=1)
    taken = list(source.batches())
    for batch in taken:
        source.commit(batch.batch_id)
    (checkpoint / "local" / "commits" / "5").unlink()

    again = [(b.batch_id, b.objects) for b in stream(root, checkpoint).batches()]

    assert again == [(5, taken[5].objects)]


def test_a_second_run_on_a_checkpoint_is_refused_while_the_first_holds_it(
    tmp_path: Path,
) -> None:
    """Two runs planning batches on one checkpoint could give one batch id two object lists
    (the second's objects then counted as done, never merged): the second run is refused."""
    checkpoint = tmp_path / "checkpoints" / "silver_prices"
    refused = pytest.raises(RunInProgressError, match="silver_prices")
    with checkpoint_lock(checkpoint), refused, checkpoint_lock(checkpoint):
        pass
    with checkpoint_lock(checkpoint):  # released: the next run takes it
        pass


def test_a_backfill_takes_the_objects_of_its_days_only(tmp_path: Path) -> None:
    root, checkpoint = tmp_path / "lake", tmp_path / "checkpoint"
    put(root, "before", 1, day="2026-01-04")
    inside = [put(root, "x", 2, day="2026-01-05"), put(root, "y", 3, day="2026-01-06")]
    put(root, "after", 4, day="2026-01-07")
    days = DayRange(dt.date(2026, 1, 5), dt.date(2026, 1, 6))

    batches = [b.objects for b in stream(root, checkpoint, max_files=9, days=days).batches()]

    assert batches == [tuple(inside)]


def test_the_spark_engine_refuses_a_checkpoint_of_the_duckdb_engine(tmp_path: Path) -> None:
    (tmp_path / "local" / "offsets").mkdir(parents=True)
    with pytest.raises(ConfigurationError, match="RWA_SILVER_ENGINE=duckdb"):
        refuse_local_checkpoint(tmp_path)
    refuse_local_checkpoint(tmp_path / "other")  # none: fine


def test_a_spark_checkpoint_is_migrated_neither_reprocessing_nor_skipping(
    tmp_path: Path, spark: SparkSession
) -> None:
    """A lake the Spark engine streamed, its last batch recorded by Spark and not committed
    (a crash): the DuckDB engine runs that batch again under its id (the ledger has it: nothing
    merged twice), then what landed since; the Spark engine then refuses the checkpoint."""
    settings = lake_settings(tmp_path, silver_engine="spark", silver_max_files_per_trigger=1)
    root = Path(settings.lake.root)
    land(root, daily_envelopes({"BTC": 100.0}, days=2))
    first = steps.run_silver(Lakehouse.from_settings(settings), "prices")
    assert first.batch_ids == [0, 1]
    checkpoint = LakePaths(settings.lake).checkpoint("silver_prices")
    (checkpoint / "commits" / "1").unlink()
    land(root, daily_envelopes({"ETH": 10.0}, days=1))
    duck = lake_settings(tmp_path, silver_engine="duckdb", silver_max_files_per_trigger=1)

    second = steps.run_silver(Lakehouse.from_settings(duck), "prices")

    assert (second.batch_ids, second.replayed_batches, second.inserted) == ([1, 2], 1, 24)
    assert (checkpoint / SPARK_MIGRATED / "offsets").is_dir()
    assert reconcile(*lake_of(duck), "prices").ok
    assert steps.run_silver(Lakehouse.from_settings(duck), "prices").batches == 0
    with pytest.raises(ConfigurationError, match="RWA_SILVER_ENGINE=duckdb"):
        steps.run_silver(Lakehouse.from_settings(settings), "prices")


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        (b"a\nb\r\nc\rd\n", ["a", "b", "c", "d"]),
        (b"a\n\n\nb", ["a", "", "", "b"]),  # blank lines in the middle kept, no final break
        (b"a\r\n", ["a"]),  # no empty last line
        (b"\n", [""]),
        (b"", []),
        (b"ok\xff\xfe\n", ["ok\ufffd\ufffd"]),  # not UTF-8: replaced, not a crash
    ],
)
def test_an_objects_lines_are_the_text_sources_lines(
    tmp_path: Path, content: bytes, lines: list[str]
) -> None:
    key = put(tmp_path, "o", 1, source="coinapi")
    (tmp_path / key).write_bytes(content)

    got = object_lines(tmp_path, key).to_pydict()

    assert got["value"] == lines
    assert set(got["bronze_file"]) <= {key} and set(got["path_source"]) <= {"coinapi"}


NO_SPARK_RUN = """
from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lakehouse import Lakehouse
from pyspark import SparkContext

report = steps.run_silver_all(Lakehouse.from_settings(Settings()), ["prices"])
assert report["prices"].inserted > 0, report
assert SparkContext._active_spark_context is None and SparkContext._jvm is None, "Spark started"
"""


def test_the_duckdb_engine_needs_no_spark_session(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path, silver_engine="duckdb")
    land(Path(settings.lake.root), daily_envelopes({"BTC": 100.0}, days=2))
    env = os.environ | {
        "RWA_LAKE_ROOT": settings.lake.root,
        "RWA_STATE_DIR": str(settings.lake.state_dir),
        "RWA_SILVER_ENGINE": "duckdb",
    }
    done = subprocess.run(
        [sys.executable, "-c", NO_SPARK_RUN], env=env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    checkpoint = LakePaths(settings.lake).checkpoint("silver_prices")
    assert (checkpoint / "local" / "commits" / "0").exists()
    assert (checkpoint / "rwa-stream-id").exists()
