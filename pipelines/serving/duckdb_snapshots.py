"""Published snapshots of the embedded store, so that loads never lock the API out.

DuckDB lets one process open a file read-write *or* several open it read-only, never both. A
file that only ever changes by being replaced avoids the conflict: readers open immutable
snapshots, a loader writes a private copy and publishes it when done.

On-disk layout for the configured path ``serving.duckdb`` (``RWA_DUCKDB_PATH``):

* ``serving.duckdb`` -- a symbolic link to the published snapshot, so ``duckdb
  serving.duckdb -readonly`` keeps working for analysts;
* ``serving.duckdb.snapshots/gen-000042.duckdb`` -- snapshots, never modified once published;
  the newest few are kept (a reader may still be opening the previous one);
* ``serving.duckdb.snapshots/.gen-000043.<pid>.duckdb.tmp`` -- the copy a loader writes;
* ``serving.duckdb.lock`` -- the writer lock (``flock``): one loader at a time, the next one
  waits for it.

A store written before snapshots existed (``serving.duckdb`` a plain file) is read as it is
and becomes the first snapshot's source on the next load, which then replaces it with the
link; nothing needs migrating by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pipelines.core.errors import StoreUnavailableError

#: Published snapshots kept, the current one included; older ones are deleted. Two, because
#: a reader that has just resolved the link may still be about to open the one before. (A
#: reader holding a deleted snapshot open keeps reading it: POSIX keeps an unlinked file
#: alive while it is open.)
KEEP_SNAPSHOTS = 2

_SNAPSHOT = re.compile(r"gen-(\d{6,})\.duckdb")
_WAL_SUFFIX = ".wal"  # DuckDB's write-ahead log lives beside its file, named <file>.wal
_POLL_S = 0.1
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SnapshotLayout:
    """Where the pieces of the store at ``path`` live (see the module docstring)."""

    path: Path

    @property
    def folder(self) -> Path:
        return self.path.with_name(self.path.name + ".snapshots")

    @property
    def lock_file(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def snapshot(self, generation: int) -> Path:
        return self.folder / f"gen-{generation:06d}.duckdb"

    def temporary(self, generation: int) -> Path:
        """The private copy this process writes; the pid tells a dead loader's leftovers."""
        return self.folder / f".gen-{generation:06d}.{os.getpid()}.duckdb.tmp"

    def published(self) -> Path | None:
        """The file readers should open now: the link's target, the plain file of a store
        written before snapshots, or None when nothing has been published."""
        try:
            target = self.path.readlink()
        except FileNotFoundError:
            return None
        except OSError:  # not a link: a store from before snapshots, read in place
            return self.path if self.path.is_file() else None
        return self.path.parent / target

    def generations(self) -> list[int]:
        """Generations of the published snapshots on disk, oldest first."""
        if not self.folder.is_dir():
            return []
        found = (_SNAPSHOT.fullmatch(entry.name) for entry in self.folder.iterdir())
        return sorted(int(match.group(1)) for match in found if match)


class WriterLock:
    """The store's writer lock: held by one :class:`~pipelines.serving.DuckDBStore` opened
    for writing, from open to close. Another process (or store) waits up to ``wait_s``."""

    def __init__(self, layout: SnapshotLayout, wait_s: float) -> None:
        try:
            layout.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = layout.lock_file.open("a+")
        except OSError as exc:
            raise StoreUnavailableError(
                f"DuckDB store {layout.path} is not writable: {exc}"
            ) from exc
        deadline = time.monotonic() + wait_s
        waiting = False
        while not self._try_lock():
            if not waiting:
                waiting = True
                _log.info(
                    "DuckDB store %s: waiting up to %g s for another loader%s to finish",
                    layout.path,
                    wait_s,
                    self._holder(),
                )
            if time.monotonic() >= deadline:
                holder = self._holder()
                self.release()
                raise StoreUnavailableError(
                    f"DuckDB store {layout.path}: another loader{holder} has been writing it "
                    f"for more than {wait_s:g} s (writer lock {layout.lock_file}); retry when "
                    "it is done, or raise RWA_DUCKDB_WRITER_WAIT_S"
                )
            time.sleep(_POLL_S)
        # Who holds it, for the message another loader shows while it waits.
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def _try_lock(self) -> bool:
        assert self._file is not None
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _holder(self) -> str:
        assert self._file is not None
        self._file.seek(0)
        pid = self._file.read().strip()
        return f" (pid {pid})" if pid else ""

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None


def start_snapshot(layout: SnapshotLayout) -> tuple[Path, bool]:
    """Under the writer lock: a new private file holding a copy of the published snapshot
    (empty when there is none), and whether there was one. Temporary files that a loader which
    died before publishing left behind are removed first: no other writer can be using them."""
    layout.folder.mkdir(parents=True, exist_ok=True)
    for stale in layout.folder.glob(".gen-*.duckdb.tmp*"):
        stale.unlink(missing_ok=True)
    source = layout.published()
    generation = max([0, *layout.generations()]) + 1
    temporary = layout.temporary(generation)
    if source is not None:
        shutil.copyfile(source, temporary)
        # Only a store from before snapshots can have a log: a published snapshot is
        # checkpointed before it is published. DuckDB replays the copied log on open.
        source_wal = source.with_name(source.name + _WAL_SUFFIX)
        if source_wal.exists():
            shutil.copyfile(source_wal, temporary.with_name(temporary.name + _WAL_SUFFIX))
    return temporary, source is not None


def publish(layout: SnapshotLayout, temporary: Path) -> Path:
    """Make the checkpointed, closed ``temporary`` the published snapshot; returns its path.

    Renames are atomic, so a reader sees either the old link or the new one, each naming a
    complete file; a crash at any point leaves the previous snapshot published.
    """
    generation = int(temporary.name.removeprefix(".gen-").split(".")[0])
    snapshot = layout.snapshot(generation)
    _fsync(temporary)
    temporary.replace(snapshot)
    link = layout.path.with_name(f".{layout.path.name}.{generation}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(snapshot.relative_to(layout.path.parent))
    legacy_wal = layout.path.with_name(layout.path.name + _WAL_SUFFIX)
    link.replace(layout.path)  # replaces a pre-snapshot plain file as well
    _fsync_folder(layout.folder)
    _fsync_folder(layout.path.parent)
    # A pre-snapshot store's log was copied into the snapshot; beside the link it would be
    # replayed by anyone opening the link.
    legacy_wal.unlink(missing_ok=True)
    collect_garbage(layout)
    return snapshot


def discard(temporary: Path) -> None:
    """Remove an unpublished copy (and its log)."""
    temporary.unlink(missing_ok=True)
    temporary.with_name(temporary.name + _WAL_SUFFIX).unlink(missing_ok=True)


def collect_garbage(layout: SnapshotLayout) -> list[Path]:
    """Delete published snapshots older than the newest :data:`KEEP_SNAPSHOTS`; the ones
    deleted. Readers still holding one keep reading it until they switch."""
    old = layout.generations()[:-KEEP_SNAPSHOTS]
    removed = [layout.snapshot(generation) for generation in old]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _fsync(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _fsync_folder(folder: Path) -> None:
    # A rename is durable only once its folder is; not every filesystem allows it.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
