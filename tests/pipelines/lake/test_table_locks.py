"""Writers of one Delta table take turns across processes (:func:`pipelines.lake.delta.
table_lock`): the silver executor and its driver, or two ``rwa`` commands, share the quarantine,
the ledger and the quality results -- a real second process, a real ``flock``."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from pipelines.lake.delta import table_lock

TAKE_THE_LOCK = """
import sys
from pipelines.lake.delta import table_lock
print("trying", flush=True)
with table_lock(sys.argv[1]):
    print("held", flush=True)
"""


def other_process_taking(uri: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", TAKE_THE_LOCK, uri], stdout=subprocess.PIPE, text=True
    )


def test_another_process_waits_for_the_lock_of_the_same_table(tmp_path: Path) -> None:
    uri = str(tmp_path / "silver" / "quarantine")
    with table_lock(uri), table_lock(uri + "/"):  # re-entrant, one lock however it is written
        other = other_process_taking(uri)
        assert other.stdout is not None
        assert other.stdout.readline() == "trying\n"  # imported, about to take the lock
        time.sleep(1)
        assert other.poll() is None  # still waiting
    out, _ = other.communicate(timeout=120)
    assert (other.returncode, out) == (0, "held\n")
    assert (tmp_path / "silver" / ".quarantine.lock").exists()  # beside the table


def test_tables_at_urls_lock_in_a_private_folder() -> None:
    with table_lock("s3://bucket/lake/silver/quarantine") as lock:
        folder = lock._path.parent
        assert folder.name.startswith("rwa-table-locks-")
        assert folder.stat().st_mode & 0o777 == 0o700


def test_other_tables_and_released_locks_do_not_wait(tmp_path: Path) -> None:
    with table_lock(str(tmp_path / "silver" / "prices")):
        other = other_process_taking(str(tmp_path / "silver" / "quarantine"))
        out, _ = other.communicate(timeout=120)
    assert (other.returncode, out) == (0, "trying\nheld\n")
    out, _ = other_process_taking(str(tmp_path / "silver" / "prices")).communicate(timeout=120)
    assert out == "trying\nheld\n"


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    uri = str(tmp_path / "silver" / "ledger")
    inside: list[int] = []
    most: list[int] = []

    def write() -> None:
        for _ in range(50):
            with table_lock(uri):
                inside.append(1)
                most.append(len(inside))
                time.sleep(0.0005)
                inside.pop()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(most) == 1
