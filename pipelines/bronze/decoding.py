"""The canonical-line check in a worker process, overlapped with the lander's Kafka fetch.

kafka-python decodes fetched record batches in the consuming thread, and the check that a value
is its canonical envelope line (:func:`pipelines.bronze.canonical.canonical_folders`: orjson
and pydantic, both holding the GIL) costs about as much CPU again, so in one process the two
add up. With ``RWA_LANDER_DECODE_PROCESSES=1`` (the default) a poll's values are sent to a
worker process and checked there while the lander fetches and decodes the next poll; the
lander then takes the previous poll's folders, which are ready or nearly so. Only the values
travel and only the folders come back; on Linux the values are copied once into memory shared
with the worker (:class:`pipelines.core.workers.SharedBuffer`) and only their places go through
the pipe (pickled through the pipe they cost the lander a wake-up of the worker per 64 kB);
whatever is not canonical still takes the full path in the lander
(:func:`pipelines.bronze.batches.decode_records`), so lines and dead-letter reasons are the
same either way. With 0 the check runs inline.

The worker is ``python -m pipelines.bronze.decoding`` (:class:`pipelines.core.workers.
WorkerProcess`), started when the lander is built (it imports while the lander joins its group).
One request is in flight at a time (the lander takes a poll's folders before sending the next
poll), so neither side can block on a full pipe while the other does too. A worker that exits
makes :meth:`FolderDecoder.folders` raise: nothing checked is committed before it is landed, so
a restarted lander reads those records again; a lander that dies closes the pipe and the worker
exits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipelines.bronze.canonical import canonical_folders
from pipelines.core.errors import RwaError
from pipelines.core.workers import (
    SharedBuffer,
    SharedReader,
    SharedRequest,
    WorkerProcess,
    serve_requests,
)

Folders = list[str | None]


class DecoderError(RwaError):
    """The worker process that checks envelopes is gone."""


class FolderDecoder:
    """Canonical folders of polled values, computed inline (``processes=0``) or in one worker
    process (``processes=1``): :meth:`submit` a poll, then take its :meth:`folders`."""

    def __init__(self, processes: int) -> None:
        self._worker: WorkerProcess | None = None
        self._shared: SharedBuffer | None = None
        self._inline: Folders | None = None
        if processes > 0:
            if SharedBuffer.available():
                self._shared = SharedBuffer("rwa-lander-values")
            try:
                self._worker = WorkerProcess(
                    __name__, pass_fds=() if self._shared is None else (self._shared.fd,)
                )
            except BaseException:
                self.close()  # the shared memory, when the worker cannot start
                raise

    def submit(self, records: Sequence[Any]) -> None:
        """Start checking the values of kafka-python ``records`` (the previous submission's
        folders must have been taken)."""
        values = [record.value for record in records]
        if self._worker is None:
            self._inline = canonical_folders(values)
            return
        try:
            # The worker answered the last request, so the shared buffer is free.
            self._worker.send(values if self._shared is None else self._shared.pack(values))
        except OSError as error:
            raise DecoderError(f"the envelope decoder process is gone: {error}") from error

    def folders(self) -> Folders:
        """The folders of the last submission, in record order."""
        if self._worker is None:
            inline, self._inline = self._inline, None
            assert inline is not None
            return inline
        try:
            folders: Folders = self._worker.receive()
        except EOFError as error:
            raise DecoderError(
                f"the envelope decoder process exited (status {self._worker.process.poll()})"
            ) from error
        return folders

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop(timeout=10)
        shared, self._shared = self._shared, None
        if shared is not None:
            shared.close()


def _serve() -> None:
    shared = SharedReader()

    def answer(request: list[bytes | None] | SharedRequest) -> Folders:
        values = request if isinstance(request, list) else shared.read(request)
        return canonical_folders(values)

    serve_requests(answer)


if __name__ == "__main__":
    _serve()
