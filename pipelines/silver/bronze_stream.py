"""The bronze objects of a silver dataset as a stream of micro-batches, without Spark.

What Spark's file source and its checkpoint do for the silver stream
(:mod:`pipelines.silver.spark_stream`), for the in-process DuckDB engine
(:mod:`pipelines.silver.duck_stream`):

* the dataset's bronze objects are listed once per run (``availableNow``: what lands during
  the run waits for the next one) with the glob of :func:`dataset_glob` (a backfill's days
  only), hidden names (``.``/``_``) left out as Hadoop's glob does;
* the objects no batch took yet are taken oldest first (modification time, then key, as
  Spark's file source orders them), at most ``max_files`` objects and ``max_bytes`` bytes per
  micro-batch (a batch holds at least one object, however large);
* a batch's objects are written to ``<checkpoint>/local/offsets/<batch id>`` (durably)
  **before** it is processed, and ``<checkpoint>/local/commits/<batch id>`` once it is done;
* once more than :data:`COMPACT_AFTER` batches are committed, a run folds their offsets into
  the last one's file (what a run reads stays small);
* a run that finds a batch with an offset and no commit (a crash in between) runs it again
  first, with the same objects under the same batch id, so the ledger and the Delta
  application transactions of the batch make the replay exactly-once.

The stream id (``rwa-stream-id``, kept by :class:`pipelines.silver.stream.SilverStream`) is
the same file for both engines. A checkpoint Spark wrote (``offsets/``, ``commits/``,
``sources/``, ``metadata``) is migrated on first use (:func:`migrate_spark_checkpoint`: the
objects of its committed batches become one committed batch, a batch Spark recorded and did not
commit is run again under its id, Spark's files are moved to ``spark-migrated/``), so switching
to this engine neither reprocesses nor skips anything; a checkpoint written here is refused by
the Spark engine (:func:`refuse_local_checkpoint`), naming the setting.

An object's lines are read as Spark's text source reads them: split on ``\\n``, ``\\r\\n`` or
``\\r``, no empty last line after a final line break (blank lines in the middle are kept), and
bytes that are not UTF-8 replaced by U+FFFD rather than failing the batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contracts.envelope import KEY_IN_PATH, SOURCE_IN_PATH, dataset_glob
from pipelines.core.errors import ConfigurationError, NotFoundError, RunInProgressError

#: Under a checkpoint folder: the local engine's book-keeping.
LOCAL_FOLDER = "local"
OFFSETS, COMMITS = "offsets", "commits"
#: Committed batches whose offsets are folded into one file at the start of a run.
COMPACT_AFTER = 100
#: What Spark's streaming checkpoint holds (any of them: Spark wrote the checkpoint).
SPARK_ENTRIES = ("offsets", "commits", "sources", "metadata")
#: Where a migrated Spark checkpoint's files are kept (for an operator; nothing reads them).
SPARK_MIGRATED = "spark-migrated"
#: The columns of the lines of a batch (the parse's input).
LINES_SCHEMA = pa.schema(
    [("value", pa.string()), ("bronze_file", pa.string()), ("path_source", pa.string())]
)
_SOURCE = re.compile(SOURCE_IN_PATH)
_BRONZE_KEY = re.compile(KEY_IN_PATH)


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One micro-batch: its id and its bronze objects (lake-relative keys), in order."""

    batch_id: int
    objects: tuple[str, ...]


@dataclass(frozen=True, slots=True, order=True)
class _Listed:
    """A listed bronze object, ordered as the stream takes them (oldest, then by key)."""

    mtime_ns: int
    key: str
    size: int


class LocalBronzeStream:
    """The micro-batches of one dataset's bronze objects (see the module docstring)."""

    def __init__(
        self,
        bronze_root: Path,
        dataset: str,
        checkpoint_dir: Path,
        *,
        max_files: int,
        max_bytes: int | None = None,
        days: Sequence[dt.date] | None = None,
    ) -> None:
        self.bronze_root = bronze_root.resolve()
        self.dataset = dataset
        self.checkpoint_dir = checkpoint_dir
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.days = days
        self._offsets = checkpoint_dir / LOCAL_FOLDER / OFFSETS
        self._commits = checkpoint_dir / LOCAL_FOLDER / COMMITS

    def batches(self) -> Iterator[PlannedBatch]:
        """The batches to process, in order: an uncommitted one first, then the new objects.
        Each is recorded before it is yielded; the caller calls :meth:`commit` once it is
        done (a batch not committed is yielded again by the next run, not by this one)."""
        if not (self.checkpoint_dir / LOCAL_FOLDER).exists():
            migrate_spark_checkpoint(self.checkpoint_dir)
        self._offsets.mkdir(parents=True, exist_ok=True)
        self._commits.mkdir(parents=True, exist_ok=True)
        planned = self._planned()
        committed = {int(p.name) for p in self._commits.iterdir() if p.name.isdigit()}
        done = sorted(committed.intersection(planned))
        if len(done) > COMPACT_AFTER:
            planned = self._compact(planned, done)
        seen: set[str] = set()
        pending: list[PlannedBatch] = []
        for batch_id, objects in sorted(planned.items()):
            seen.update(objects)
            if batch_id not in committed:
                pending.append(PlannedBatch(batch_id, objects))
        next_id = max(planned, default=-1) + 1
        new = [listed for listed in self._listed() if listed.key not in seen]
        yield from pending
        for objects in self._cut(new):
            batch = PlannedBatch(next_id, objects)
            _write_durably(self._offsets / str(batch.batch_id), json.dumps(list(batch.objects)))
            yield batch
            next_id += 1

    def _cut(self, new: list[_Listed]) -> Iterator[tuple[str, ...]]:
        """``new`` in order, cut into batches of at most ``max_files`` objects and
        ``max_bytes`` bytes (one object alone when it is larger)."""
        held: list[str] = []
        size = 0
        for listed in new:
            full = len(held) >= self.max_files or (
                self.max_bytes is not None and size + listed.size > self.max_bytes
            )
            if held and full:
                yield tuple(held)
                held, size = [], 0
            held.append(listed.key)
            size += listed.size
        if held:
            yield tuple(held)

    def _compact(
        self, planned: dict[int, tuple[str, ...]], done: list[int]
    ) -> dict[int, tuple[str, ...]]:
        """Fold the offsets of the committed batches ``done`` into the last one's (the objects
        they took, so what a run reads stays one file for them). Crash-safe in this order: the
        last one's file holds them all before the others go. A batch not committed keeps its
        own offsets, whatever its id."""
        last = done[-1]
        folded = sorted({key for batch in done for key in planned[batch]})
        _write_durably(self._offsets / str(last), json.dumps(folded))
        for batch in done[:-1]:
            (self._offsets / str(batch)).unlink(missing_ok=True)
            (self._commits / str(batch)).unlink(missing_ok=True)
        kept = {batch: keys for batch, keys in planned.items() if batch not in done}
        return {last: tuple(folded), **kept}

    def commit(self, batch_id: int) -> None:
        _write_durably(self._commits / str(batch_id), "")

    def _listed(self) -> list[_Listed]:
        """The dataset's bronze objects with their sizes, oldest first."""
        days = None if self.days is None else list(self.days)
        found: set[_Listed] = set()
        for pattern in _expand_braces(dataset_glob(self.dataset, days)):
            for path in self.bronze_root.glob(pattern):
                if path.name.startswith((".", "_")):
                    continue
                try:
                    stat = path.stat()
                except (FileNotFoundError, NotADirectoryError):
                    continue  # gone since the listing, or a link to nothing: not an object
                if not S_ISREG(stat.st_mode):
                    continue
                key = path.relative_to(self.bronze_root).as_posix()
                found.add(_Listed(stat.st_mtime_ns, key, stat.st_size))
        return sorted(found)

    def _planned(self) -> dict[int, tuple[str, ...]]:
        planned: dict[int, tuple[str, ...]] = {}
        for path in self._offsets.iterdir():
            if path.name.isdigit():
                planned[int(path.name)] = tuple(json.loads(path.read_text()))
        return planned


def refuse_local_checkpoint(checkpoint_dir: Path) -> None:
    """ConfigurationError when the DuckDB engine wrote ``checkpoint_dir`` (the Spark engine
    cannot continue it)."""
    if (checkpoint_dir / LOCAL_FOLDER).exists():
        raise ConfigurationError(
            f"the silver checkpoint {checkpoint_dir} was written by the duckdb engine and this "
            f"run uses the spark engine: set RWA_SILVER_ENGINE=duckdb (or auto on a local "
            f"master) to continue it, or remove the folder (the stream then reads all of "
            f"bronze again, and the MERGE changes nothing already in silver)"
        )


def migrate_spark_checkpoint(checkpoint_dir: Path) -> bool:
    """Turn a checkpoint of Spark's file stream into this stream's (see the module docstring);
    False when there is none. The new book-keeping is written whole under a temporary name and
    renamed into place before Spark's files are moved away: a crash in between leaves either
    the Spark checkpoint or the migrated one."""
    if not any((checkpoint_dir / entry).exists() for entry in SPARK_ENTRIES):
        return False
    log_offsets = {
        batch: _spark_log_offset(path)
        for batch, path in _numbered(checkpoint_dir / "offsets").items()
    }
    done = max(_numbered(checkpoint_dir / "commits"), default=-1)
    done_log = log_offsets.get(done, -1)
    entries = _spark_source_entries(checkpoint_dir / "sources")
    planned: dict[int, list[str]] = {}
    if done >= 0:
        planned[done] = sorted({key for batch, key in entries if batch <= done_log})
    pending = max(log_offsets, default=-1)
    if pending > done:
        upto = log_offsets[pending]
        keys = sorted({key for batch, key in entries if done_log < batch <= upto})
        if keys:
            planned[pending] = keys
    staged = checkpoint_dir / f".{LOCAL_FOLDER}.{uuid.uuid4().hex}"
    for folder in (OFFSETS, COMMITS):
        (staged / folder).mkdir(parents=True)
    for batch, keys in planned.items():
        _write_durably(staged / OFFSETS / str(batch), json.dumps(keys))
    if done >= 0:
        _write_durably(staged / COMMITS / str(done), "")
    staged.replace(checkpoint_dir / LOCAL_FOLDER)
    kept = checkpoint_dir / SPARK_MIGRATED
    kept.mkdir(exist_ok=True)
    for entry in SPARK_ENTRIES:
        if (checkpoint_dir / entry).exists():
            (checkpoint_dir / entry).replace(kept / entry)
    return True


def _numbered(folder: Path) -> dict[int, Path]:
    """Spark's log files of ``folder`` by batch id (not its .crc or temporary files)."""
    if not folder.is_dir():
        return {}
    return {int(p.name): p for p in folder.iterdir() if p.name.isdigit()}


def _spark_log_offset(path: Path) -> int:
    """The file source's log offset of one of Spark's offsets files (its last line)."""
    last = path.read_text().strip().splitlines()[-1]
    return int(json.loads(last)["logOffset"])


def _spark_source_entries(sources: Path) -> list[tuple[int, str]]:
    """(source batch id, lake-relative key) of every file Spark's file source logged (its
    compacted files and the ones after them: a key seen twice is one object)."""
    found: list[tuple[int, str]] = []
    for folder in sorted(p for p in sources.glob("*") if p.is_dir()):
        for path in folder.iterdir():
            if not (path.name.isdigit() or path.name.endswith(".compact")):
                continue
            for line in path.read_text().splitlines()[1:]:  # the first line is the version
                if not line.strip():
                    continue
                entry = json.loads(line)
                key = _BRONZE_KEY.search(unquote(urlparse(entry["path"]).path))
                if key is not None:
                    found.append((int(entry["batchId"]), key.group(1)))
    return found


def object_lines(bronze_root: Path, key: str) -> pa.RecordBatch:
    """The lines of one bronze object (lake-relative ``key``) as :data:`LINES_SCHEMA`."""
    path = bronze_root / key
    if not path.is_file():
        raise NotFoundError(f"bronze object {key} is gone from {bronze_root}: a batch needs it")
    data = path.read_bytes()
    # One break for three (a plain split is 50x a regex split's speed); a CR byte is never
    # part of another UTF-8 character, so the bytes can be changed before they are decoded.
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = pc.list_flatten(pc.split_pattern(_utf8_text(data), "\n"))
    if len(lines) and data.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    if not data:
        lines = lines.slice(0, 0)
    found = _SOURCE.search("/" + key)
    source = "" if found is None else found.group(1)
    count = len(lines)
    return pa.record_batch(
        [lines, pa.array([key] * count, pa.string()), pa.array([source] * count, pa.string())],
        schema=LINES_SCHEMA,
    )


def _utf8_text(data: bytes) -> pa.Array[Any]:
    """``data`` as a one-element Arrow text array: the bytes themselves where they are UTF-8
    (no Python string, no copy: an object's text is held once before its lines are split),
    else decoded with U+FFFD for the bytes that are not."""
    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]
    text = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return pa.array([data.decode("utf-8", errors="replace")], pa.string())
    return text


def batch_lines(bronze_root: Path, objects: Sequence[str]) -> pa.RecordBatchReader:
    """The lines of ``objects``, one object at a time (one object in memory at once)."""
    root = bronze_root.resolve()
    batches = (object_lines(root, key) for key in objects)
    return pa.RecordBatchReader.from_batches(LINES_SCHEMA, batches)


def _expand_braces(pattern: str) -> list[str]:
    """Path.glob has no ``{a,b}`` alternation (Hadoop's glob has): one pattern per choice."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [p for choice in match.group(1).split(",") for p in _expand_braces(head + choice + tail)]


@contextlib.contextmanager
def checkpoint_lock(checkpoint_dir: Path) -> Iterator[None]:
    """Hold the checkpoint for one run: a second run on it (two overlapping ``rwa silver``, or
    scheduled runs that overlap) raises RunInProgressError instead of planning the same batch
    ids over other objects. An advisory lock on a file beside the checkpoint, released by the
    operating system if the process dies."""
    checkpoint_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = checkpoint_dir.parent / f".{checkpoint_dir.name}.lock"
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgressError(
                f"another silver run holds the checkpoint {checkpoint_dir}; "
                "retry once it has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _write_durably(path: Path, text: str) -> None:
    """``text`` as ``path``, whole or not at all, on disk before this returns."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(path)
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
