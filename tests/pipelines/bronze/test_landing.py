"""The bronze object writer: a worker process writes exactly what the lander's own process
would, reports replays and conflicts the same way, and hands back the write's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.bronze.landing import Landed, ObjectWriter, WriterError
from pipelines.lake.objects import LocalObjectStore

GROUPS = {
    "bronze/source=s/dataset=prices/date=2026-01-01/t+0+00000000000000000000.jsonl": [
        b'{"a":1}',
        b'{"a":2}',
    ],
    "bronze/source=s/dataset=prices/date=2026-01-02/t+0+00000000000000000002.jsonl": [b"{}"],
}


def write(writer: ObjectWriter, groups: dict[str, list[bytes]]) -> Landed:
    writer.submit(groups)
    return writer.result()


@pytest.mark.parametrize("processes", [1, 0])
def test_writes_reports_replays_and_conflicts_alike(processes: int, tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    writer = ObjectWriter(store, processes)
    try:
        assert writer.overlapped == (processes == 1)
        assert write(writer, GROUPS) == Landed()
        for key, lines in GROUPS.items():
            assert store.get(key) == b"".join(line + b"\n" for line in lines)
        # A larger landing than the first (the shared buffer grows) with a replayed object
        # and one whose name is taken by other bytes.
        first, second = GROUPS
        big = {f"bronze/big/{i}.jsonl": [b"x" * 100_000] * 200 for i in range(2)}
        landed = write(writer, {first: GROUPS[first], second: [b"other"], **big})
        assert landed == Landed(present=[first], different=[second])
        assert store.get(second) == b"{}\n"  # never replaced
        assert store.get("bronze/big/1.jsonl") == (b"x" * 100_000 + b"\n") * 200
    finally:
        writer.close()


@pytest.mark.parametrize("processes", [1, 0])
def test_a_failing_write_raises_its_error(processes: int, tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    (tmp_path / "bronze").write_bytes(b"a file where a folder must go")
    writer = ObjectWriter(store, processes)
    try:
        with pytest.raises(NotADirectoryError):
            write(writer, GROUPS)
        (tmp_path / "bronze").unlink()
        assert write(writer, GROUPS) == Landed()  # the writer goes on after the error
    finally:
        writer.close()


def test_a_dead_worker_is_an_error(tmp_path: Path) -> None:
    writer = ObjectWriter(LocalObjectStore(tmp_path), 1)
    try:
        assert writer._worker is not None
        writer._worker.process.kill()
        writer._worker.process.wait()
        with pytest.raises(WriterError):
            write(writer, GROUPS)
    finally:
        writer.close()
