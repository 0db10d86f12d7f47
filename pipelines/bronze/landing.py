"""Writing a landing's bronze objects in a worker process, overlapped with the lander's fetch.

Creating an object is mostly kernel work (a file and, for a new date, a folder, then the
durability waits of ``put_many_if_absent``): on the 2-core VM a create cost 0.3-0.6 ms of
system CPU (ext4 without a journal walks past recently deleted inodes), about as much as the
bare consumer spends on the whole record. Done in the lander's process it stops the fetch;
with ``RWA_LANDER_WRITE_PROCESSES=1`` (the default) a landing's objects go to a worker process
(``python -m pipelines.bronze.landing``, :class:`pipelines.core.workers.WorkerProcess`) that
writes them with :meth:`LocalObjectStore.put_many_if_absent` and reports which were already
there, while the lander fetches, checks and buffers on. The lander commits a landing's offsets
only when the worker reported its objects durable (:meth:`ObjectWriter.result`), so "durable
before commit" is unchanged; only the wait moved.

One landing is in flight at a time: the lander takes the previous landing's result before it
submits the next, so requests are only written to an idle worker and at most one small reply
is unread (neither side can block on a full pipe while the other does too). The bodies do not
travel through the pipe: the lander copies them once into memory it shares with the worker (a
``memfd``, free again once the worker answered) and sends only their places. A worker that
exits makes :meth:`ObjectWriter.result` raise (nothing of that landing is committed; a
restarted lander reads it again and ``put_if_absent`` keeps what was written); a file-system
error in the worker comes back as the same :class:`OSError` the lander would have raised
writing in its own process. Only a plain :class:`LocalObjectStore` on Linux is written in a
worker (the worker opens the same folder); other stores (S3, tests' failing stores) are
written in the lander's process, as before.
"""

from __future__ import annotations

import mmap
import os
import select
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.core.errors import RwaError
from pipelines.core.workers import WorkerProcess, serve_requests
from pipelines.lake.objects import LocalObjectStore, ObjectStore

#: key -> the object's lines (no newlines)
Groups = Mapping[str, Sequence[bytes]]
#: key -> where the object's body lies in the shared buffer: (start, end)
Spans = dict[str, tuple[int, int]]
#: The shared buffer's least size; it grows to the largest landing (doubling).
_MIN_SHARED = 16 * 1024 * 1024


class WriterError(RwaError):
    """The worker process that writes bronze objects is gone."""


@dataclass(frozen=True)
class Landed:
    """What a landing's write found: keys already present with the same bytes (a replay) and
    keys present with other bytes (offsets reused); every other key was written."""

    present: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)


def write_objects(store: ObjectStore, groups: Groups) -> Landed:
    """Write each group as one object (its lines, each ending in a newline), durable when this
    returns; objects already there are compared byte for byte."""
    # The trailing empty line ends the last line: one copy of the lines, not two.
    return _write_bodies(store, {key: b"\n".join([*lines, b""]) for key, lines in groups.items()})


def _write_bodies(store: ObjectStore, bodies: Mapping[str, bytes]) -> Landed:
    written = store.put_many_if_absent(bodies)
    landed = Landed()
    for key, new in written.items():
        if not new:
            (landed.present if store.get(key) == bodies[key] else landed.different).append(key)
    return landed


class _SharedBuffer:
    """Memory shared with the worker (a ``memfd``): a landing's bodies are copied into it once
    and only their places travel through the pipe. Pushing the lines through the pipe instead
    cost the lander about twice its fetch time under load (a context switch per 64 kB)."""

    def __init__(self) -> None:
        self.fd = os.memfd_create("rwa-bronze-landing")
        self.size = _MIN_SHARED
        os.ftruncate(self.fd, self.size)
        self._map = mmap.mmap(self.fd, self.size)

    def pack(self, groups: Groups) -> Spans:
        """Each group's body (its lines, each ending in a newline) copied in; their places."""
        needed = sum(len(line) + 1 for lines in groups.values() for line in lines)
        if needed > self.size:
            self.size = max(needed, 2 * self.size)
            os.ftruncate(self.fd, self.size)
            self._map.close()
            self._map = mmap.mmap(self.fd, self.size)
        spans: Spans = {}
        at = 0
        for key, lines in groups.items():
            start = at
            for line in lines:
                end = at + len(line)
                self._map[at:end] = line
                self._map[end] = 0x0A  # newline
                at = end + 1
            spans[key] = (start, at)
        return spans

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)


class ObjectWriter:
    """Writes a landing's objects in one worker process (``processes=1``, a plain
    :class:`LocalObjectStore` and Linux's ``memfd``) or in this process: :meth:`submit` a
    landing, then take its :meth:`result` before submitting the next."""

    def __init__(self, store: ObjectStore, processes: int) -> None:
        self._store = store
        self._worker: WorkerProcess | None = None
        self._shared: _SharedBuffer | None = None
        self._inline: Landed | OSError | None = None
        if processes > 0 and type(store) is LocalObjectStore and hasattr(os, "memfd_create"):
            self._shared = _SharedBuffer()
            self._worker = WorkerProcess(__name__, pass_fds=(self._shared.fd,))
            self._request_head = (str(store.root), store.use_syncfs, self._shared.fd)

    @property
    def overlapped(self) -> bool:
        """Whether a submitted landing is written while this process goes on."""
        return self._worker is not None

    def submit(self, groups: Groups) -> None:
        if self._worker is None or self._shared is None:
            try:
                self._inline = write_objects(self._store, groups)
            except OSError as error:
                self._inline = error
            return
        # The worker is idle (the previous result was taken), so the buffer is free.
        spans = self._shared.pack(groups)
        try:
            self._worker.send((*self._request_head, self._shared.size, spans))
        except OSError as error:
            raise WriterError(f"the bronze object writer process is gone: {error}") from error

    def ready(self) -> bool:
        """Whether the submitted landing's result can be taken without waiting."""
        if self._worker is None:
            return True
        stdout = self._worker.process.stdout
        assert stdout is not None
        return bool(select.select([stdout], [], [], 0)[0])

    def result(self) -> Landed:
        """The submitted landing's result once its objects are durable; raises the write's
        :class:`OSError`, or :class:`WriterError` when the worker exited."""
        if self._worker is None:
            outcome, self._inline = self._inline, None
        else:
            try:
                outcome = self._worker.receive()
            except EOFError as error:
                raise WriterError(
                    f"the bronze object writer exited (status {self._worker.process.poll()})"
                ) from error
        if isinstance(outcome, OSError):
            raise outcome
        assert isinstance(outcome, Landed)
        return outcome

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop(timeout=60)
        shared, self._shared = self._shared, None
        if shared is not None:
            shared.close()


class _Serving:
    """The worker's side: its stores and its view of the shared buffer."""

    def __init__(self) -> None:
        self.stores: dict[tuple[str, bool], LocalObjectStore] = {}
        self.shared: mmap.mmap | None = None

    def answer(self, request: tuple[str, bool, int, int, Spans]) -> Landed | OSError:
        root, use_syncfs, fd, size, spans = request
        store = self.stores.get((root, use_syncfs))
        if store is None:
            store = LocalObjectStore(Path(root), use_syncfs=use_syncfs)
            self.stores[root, use_syncfs] = store
        if self.shared is None or len(self.shared) != size:  # the lander grew it
            if self.shared is not None:
                self.shared.close()
            self.shared = mmap.mmap(fd, size)
        bodies = {key: self.shared[start:end] for key, (start, end) in spans.items()}
        try:
            return _write_bodies(store, bodies)
        except OSError as error:
            return error


if __name__ == "__main__":
    # Served from the module's import name, so Landed pickles as pipelines.bronze.landing's.
    from pipelines.bronze.landing import _Serving

    serve_requests(_Serving().answer)
