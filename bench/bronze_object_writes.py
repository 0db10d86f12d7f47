"""Benchmark: one ``LocalObjectStore.put_many_if_absent`` of many small objects in new folders
(what the lander's final flush does), made durable with ``syncfs`` or with per-file and
per-folder fsyncs, alternated in one run.

Each round writes ``--objects`` objects of ``--size`` bytes, each in its own new date folder
(``bronze/source=s/dataset=d<k>/date=<day>/...``, as a flush of many fetch days does), into a
fresh store under the temp folder, once per mode, the modes' order alternating between rounds.
``unsynced`` (no fsync, no syncfs) is the floor the durable modes are measured against; it is
not a mode the store offers.

Usage:
    .venv/bin/python bench/bronze_object_writes.py [--objects 813] [--size 62000] [--rounds 6]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pipelines.lake import objects
from pipelines.lake.objects import LocalObjectStore


@contextlib.contextmanager
def unsynced() -> Iterator[None]:
    """syncfs made a no-op (the floor: writes and links only)."""
    real = objects.syncfs
    objects.syncfs = lambda fd: None
    try:
        yield
    finally:
        objects.syncfs = real


def batch(count: int, size: int, tag: str) -> dict[str, bytes]:
    body = (b"x" * (size - 1)) + b"\n"
    start = dt.date(2020, 1, 1)
    return {
        f"bronze/source=s/dataset=d{i % 5}/date={start + dt.timedelta(days=i // 5)}/"
        f"raw+0+{i:020d}-{tag}.jsonl": body
        for i in range(count)
    }


def one_round(root: Path, mode: str, count: int, size: int) -> float:
    store = LocalObjectStore(root / mode, use_syncfs=mode != "fsync")
    objects_ = batch(count, size, mode)
    with unsynced() if mode == "unsynced" else contextlib.nullcontext():
        started = time.perf_counter()
        written = store.put_many_if_absent(objects_)
        seconds = time.perf_counter() - started
    assert all(written.values())
    if mode == "unsynced":  # not timed: the next mode must not pay for this one's writeback
        fd = os.open(root, os.O_RDONLY)
        try:
            objects.syncfs(fd)
        finally:
            os.close(fd)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=813, help="objects per call")
    parser.add_argument("--size", type=int, default=62_000, help="bytes per object")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--dir", type=Path, help="where to write (default: the temp folder)")
    args = parser.parse_args()
    if not objects.syncfs_available():
        raise SystemExit("syncfs is not available here: nothing to compare")

    modes = ["syncfs", "fsync", "unsynced"]
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for round_ in range(args.rounds):
        order = modes if round_ % 2 == 0 else modes[::-1]
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            for mode in order:
                times[mode].append(one_round(Path(tmp), mode, args.objects, args.size))
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{args.objects} objects of {args.size:,} bytes in new folders, "
        f"{args.rounds} rounds (modes alternated); seconds per call:"
    )
    for mode in modes:
        values = times[mode]
        print(
            f"  {mode:<9} median {statistics.median(values):6.3f}  min {min(values):6.3f}  "
            f"max {max(values):6.3f}   " + " ".join(f"{v:.3f}" for v in values)
        )


if __name__ == "__main__":
    main()
