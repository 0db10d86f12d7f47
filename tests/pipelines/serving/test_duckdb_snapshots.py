"""The embedded store's snapshots across processes: publish, crash before publishing, a second
writer waiting, a store from before snapshots, garbage collection under an open reader."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from pipelines.core.errors import StoreUnavailableError
from pipelines.core.settings import ServingSettings
from pipelines.serving.duckdb_snapshots import KEEP_SNAPSHOTS, SnapshotLayout
from pipelines.serving.duckdb_store import DuckDBStore
from tests.fixtures.sample_data import bars

REPO_ROOT = Path(__file__).resolve().parents[3]
#: Generous: a child process imports pyarrow and DuckDB first, on a possibly busy machine.
CHILD_READY_S = 120.0


def _store_with(path: Path, n: int) -> Path:
    with DuckDBStore(path) as store:
        store.migrate()
        store.upsert_ohlcv(bars(n=n))
    return path


def _bar_count(store: DuckDBStore) -> int:
    return len(store.ohlcv("ousg", "1h"))


def _start_loader(path: Path, n: int, *, then: str) -> subprocess.Popen[str]:
    """A loader in another process that writes ``n`` bars, prints "written", then runs
    ``then`` (e.g. sleeps until killed) before closing the store."""
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from pipelines.serving.duckdb_store import DuckDBStore
        from tests.fixtures.sample_data import bars
        store = DuckDBStore(Path({str(path)!r}))
        store.upsert_ohlcv(bars(n={n}))
        print("written", flush=True)
        {then}
        store.close()
        print("closed", flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
    )


def _wait_for_line(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + CHILD_READY_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.strip() == expected:
            return
        if not line and process.poll() is not None:
            pytest.fail(f"loader exited with {process.returncode} before printing {expected!r}")
    pytest.fail(f"loader did not print {expected!r} within {CHILD_READY_S:.0f} s")


def test_a_loader_killed_before_publishing_leaves_the_published_snapshot_intact(
    tmp_path: Path,
) -> None:
    path = _store_with(tmp_path / "serving.duckdb", n=2)
    layout = SnapshotLayout(path)
    published = layout.published()
    with DuckDBStore(path, read_only=True) as reader:
        loader = _start_loader(path, n=5, then="time.sleep(600)")
        _wait_for_line(loader, "written")
        loader.send_signal(signal.SIGKILL)
        loader.wait(30)
        left_behind = list(layout.folder.glob(f".gen-*.{loader.pid}.duckdb.tmp*"))
        assert left_behind, "the killed loader's private copy should still be on disk"
        assert layout.published() == published
        assert _bar_count(reader) == 2

        # The next loader gets the lock the dead one held, removes its leftovers, publishes.
        with DuckDBStore(path) as store:
            assert not any(stale.exists() for stale in left_behind)
            assert _bar_count(store) == 2  # it starts from the published snapshot
            store.upsert_ohlcv(bars(n=3))
        assert _bar_count(reader) == 3
    assert not list(layout.folder.glob(".gen-*"))


def test_a_second_writer_process_waits_for_the_first_and_keeps_its_rows(tmp_path: Path) -> None:
    path = _store_with(tmp_path / "serving.duckdb", n=1)
    first = _start_loader(path, n=3, then="time.sleep(1.5)")
    _wait_for_line(first, "written")
    with pytest.raises(StoreUnavailableError, match=r"another loader \(pid \d+\)"):
        DuckDBStore(path, writer_wait_s=0.2)
    started = time.monotonic()
    with DuckDBStore(path, writer_wait_s=CHILD_READY_S) as second:
        # It waited for the first to publish, so it builds on the first's rows.
        assert _bar_count(second) == 3
    assert time.monotonic() - started > 0.1
    _wait_for_line(first, "closed")
    assert first.wait(30) == 0


def test_a_store_from_before_snapshots_is_served_and_then_replaced_by_the_link(
    tmp_path: Path,
) -> None:
    snapshot = SnapshotLayout(_store_with(tmp_path / "old" / "serving.duckdb", n=2)).published()
    assert snapshot is not None
    legacy = tmp_path / "serving.duckdb"
    shutil.copyfile(snapshot, legacy)  # a plain DuckDB file, as earlier versions wrote

    with DuckDBStore(legacy, read_only=True) as reader:
        assert _bar_count(reader) == 2
        with DuckDBStore(legacy) as writer:
            writer.upsert_ohlcv(bars(n=4))
        assert legacy.is_symlink()
        assert _bar_count(reader) == 4
    # Analysts can still open the configured path with DuckDB itself.
    with duckdb.connect(str(legacy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ohlcv").fetchone() == (4,)


def test_old_snapshots_are_deleted_while_a_reader_holds_one_open(tmp_path: Path) -> None:
    path = _store_with(tmp_path / "serving.duckdb", n=1)
    layout = SnapshotLayout(path)
    with DuckDBStore(path, read_only=True) as reader, reader._cursor() as held:
        for n in range(2, 6):
            with DuckDBStore(path) as writer:
                writer.upsert_ohlcv(bars(n=n))
        assert len(layout.generations()) == KEEP_SNAPSHOTS
        # The read in flight still works on its (now deleted) snapshot; the next read sees
        # the newest one.
        assert held.execute("SELECT count(*) FROM ohlcv").fetchone() == (1,)
        assert _bar_count(reader) == 5


def test_a_writer_that_wrote_nothing_publishes_nothing(tmp_path: Path) -> None:
    path = _store_with(tmp_path / "serving.duckdb", n=1)
    layout = SnapshotLayout(path)
    before = layout.generations()
    with DuckDBStore(path) as store:
        assert _bar_count(store) == 1
    assert layout.generations() == before
    assert not list(layout.folder.glob(".gen-*"))


def test_a_reader_keeps_results_per_snapshot_and_a_thread_cursor_survives_an_unfetched_read(
    tmp_path: Path,
) -> None:
    path = _store_with(tmp_path / "serving.duckdb", 3)
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return _bar_count(reader)

    with DuckDBStore(path, read_only=True) as reader:
        assert reader.memoised("bars", count) == 3
        assert reader.memoised("bars", count) == 3
        assert len(calls) == 1  # the snapshot has not changed: computed once
        with DuckDBStore(path) as writer:  # a load: published when closed
            writer.upsert_ohlcv(bars(n=5))
            assert reader.memoised("bars", count) == 3  # not published yet
        assert reader.memoised("bars", count) == 5  # the new snapshot's own result
        assert len(calls) == 2
        # A read that leaves its result unfetched (fetchone) does not block the thread's next.
        assert reader.get_asset("nope") is None
        assert reader.ohlcv_table("ousg", "1h").num_rows == 5
    with DuckDBStore(path) as writer:  # a writer's data changes under it: never kept
        assert writer.memoised("bars", lambda: _bar_count(writer)) == 5
        writer.upsert_ohlcv(bars(n=7))
        assert writer.memoised("bars", lambda: _bar_count(writer)) == 7


def test_frames_and_tables_count_their_size_against_the_memo_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept frame or Arrow table counts its bytes, not a nominal kilobyte: a few large
    panels empty the memo instead of growing it past its budget."""
    import pandas as pd
    import pyarrow as pa

    from pipelines.serving import duckdb_store

    monkeypatch.setattr(duckdb_store, "MEMO_BYTES", 100_000)
    path = _store_with(tmp_path / "serving.duckdb", 3)
    computed: list[str] = []

    def big(name: str) -> pd.DataFrame:
        computed.append(name)
        return pd.DataFrame({"close": [1.0] * 8_000})  # 64 kB of floats

    with DuckDBStore(path, read_only=True) as reader:
        reader.memoised("a", lambda: big("a"))
        reader.memoised("a", lambda: big("a"))
        reader.memoised("b", lambda: big("b"))  # 128 kB > 100 kB: "a" is let go
        reader.memoised("a", lambda: big("a"))
        table = pa.table({"x": list(range(20_000))})
        reader.memoised("t", lambda: table)
    assert computed == ["a", "b", "a"]
    assert duckdb_store._memo_cost(table) == table.nbytes


def test_a_writer_s_buffer_pool_is_bounded_by_the_setting(tmp_path: Path) -> None:
    """A load runs in the pipeline's process: DuckDB's default (80% of RAM) would let the
    driver grow with the store, so the writer takes the configured limit."""
    with DuckDBStore(tmp_path / "serving.duckdb", memory_limit="64MB") as store:
        store.migrate()
        with store._cursor() as cursor:
            row = cursor.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    assert row[0] in ("64.0 MiB", "61.0 MiB", "64.0 MB", "61.0 MB"), row


def test_a_memory_limit_that_is_not_a_size_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"duckdb_memory_limit|RWA_DUCKDB_MEMORY_LIMIT"):
        ServingSettings(RWA_DUCKDB_MEMORY_LIMIT="lots")
