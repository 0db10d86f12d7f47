"""The canonical-line check in a worker process, overlapped with the lander's Kafka fetch.

kafka-python decodes fetched record batches in the consuming thread, and the check that a value
is its canonical envelope line (:func:`pipelines.bronze.canonical.canonical_folders`: orjson
and pydantic, both holding the GIL) costs about as much CPU again, so in one process the two
add up. With ``RWA_LANDER_DECODE_PROCESSES=1`` (the default) a poll's values are sent to a
worker process and checked there while the lander fetches and decodes the next poll; the
lander then takes the previous poll's folders, which are ready or nearly so. Only the values
travel (bytes pickle as a copy) and only the folders come back; whatever is not canonical
still takes the full path in the lander (:func:`pipelines.bronze.batches.decode_records`), so
lines and dead-letter reasons are the same either way. With 0 the check runs inline.

The worker is ``python -m pipelines.bronze.decoding`` on a pair of pipes, started when the
lander is built (it imports while the lander joins its group). Not ``multiprocessing``: its
``spawn`` and ``forkserver`` start methods import the parent's main script again in the child
(a script building a lander at top level would start landers recursively), and ``fork`` would
copy a process that runs kafka-python's threads. One request is in flight at a time (the
lander takes a poll's folders before sending the next poll), so neither side can block on a
full pipe while the other does too. A worker that exits makes :meth:`FolderDecoder.folders`
raise: nothing checked is committed before it is landed, so a restarted lander reads those
records again; a lander that dies closes the pipe and the worker exits.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pipelines
from pipelines.bronze.canonical import canonical_folders
from pipelines.core.errors import RwaError

Folders = list[str | None]

_LENGTH = struct.Struct("<Q")


class DecoderError(RwaError):
    """The worker process that checks envelopes is gone."""


class FolderDecoder:
    """Canonical folders of polled values, computed inline (``processes=0``) or in one worker
    process (``processes=1``): :meth:`submit` a poll, then take its :meth:`folders`."""

    def __init__(self, processes: int) -> None:
        self._worker: subprocess.Popen[bytes] | None = None
        self._inline: Folders | None = None
        if processes > 0:
            root = str(Path(pipelines.__file__).resolve().parents[1])
            path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
            self._worker = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=os.environ | {"PYTHONPATH": path},
            )

    def submit(self, records: Sequence[Any]) -> None:
        """Start checking the values of kafka-python ``records`` (the previous submission's
        folders must have been taken)."""
        values = [record.value for record in records]
        if self._worker is None:
            self._inline = canonical_folders(values)
            return
        assert self._worker.stdin is not None
        try:
            _send(self._worker.stdin, values)
        except OSError as error:
            raise DecoderError(f"the envelope decoder process is gone: {error}") from error

    def folders(self) -> Folders:
        """The folders of the last submission, in record order."""
        if self._worker is None:
            inline, self._inline = self._inline, None
            assert inline is not None
            return inline
        assert self._worker.stdout is not None
        folders: Folders | None = _receive(self._worker.stdout)
        if folders is None:
            raise DecoderError(
                f"the envelope decoder process exited (status {self._worker.poll()})"
            )
        return folders

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        for stream in (worker.stdin, worker.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead worker: unsent bytes are dropped
                    stream.close()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next value, or None at the end of the stream."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The worker: values in, folders out, until the lander closes the pipe."""
    while (values := _receive(requests)) is not None:
        _send(replies, canonical_folders(values))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
