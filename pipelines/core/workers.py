"""A Python worker process on a pair of pipes: pickled requests in, pickled replies out.

Used where one machine's second core should take a share of CPU-bound Python work (the lander's
envelope checks, the forecasts' fits), and where a step's memory must not stay with its caller
(the silver step's executor, :mod:`pipelines.silver_run`). The worker is ``python -m <module>``
with the project's root first on ``PYTHONPATH`` (so it imports the code its parent runs,
installed or not), whose ``__main__`` calls :func:`serve_requests`. Not ``multiprocessing``:
its ``spawn`` and ``forkserver`` start methods import the parent's main script again in each
child and leave a resource-tracker process behind, and ``fork`` would copy a driver that runs
the JVM gateway's threads. Messages are pickles behind a mark and their length; a worker
whose parent dies reads the end of its pipe and exits, or, inside a request, is ended by a
thread that watches its parent (:func:`serve_requests`).

A worker that calls a function per request (:func:`serve_calls`) answers ``("ok", result)`` or
``("error", (exception, traceback))``, and :meth:`WorkerProcess.call` raises that exception in
the caller, chained to a :class:`RemoteTraceback` of the worker's stack.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from pipelines.core.errors import RwaError

#: A message's header: a mark (bytes printed to the pipe by mistake are an error, not a wait
#: for a length they happen to spell) and the length of the pickle that follows.
_HEADER = struct.Struct("<4sQ")
_MARK = b"RWA1"
#: How often a worker checks that its parent is still there (during a long request).
_PARENT_CHECK_S = 1.0
#: A shared buffer's least size; it grows (doubling) to the largest request.
_MIN_SHARED = 8 * 1024 * 1024
#: Where each chunk of a shared request lies: (start, end), or None for a None chunk.
Bounds = list[tuple[int, int] | None]
#: A request whose chunks lie in a shared buffer: (descriptor, buffer size, bounds).
SharedRequest = tuple[int, int, Bounds]
#: The folder that holds the project's packages.
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(_MARK, len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next value; EOFError at the end of the stream (or a message cut short)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the pipe ended")
    mark, length = _HEADER.unpack(header)
    if mark != _MARK:
        raise EOFError(f"the pipe carried {header!r}, not a message (printed to the reply pipe?)")
    data = stream.read(length)
    if len(data) < length:
        raise EOFError("the pipe ended inside a message")
    return pickle.loads(data)


class WorkerLostError(RwaError):
    """A worker process exited, or its reply could not be read, before it answered."""


class RemoteTraceback(Exception):  # noqa: N818 (a traceback shown as a cause, not an error)
    """Where an exception a worker answered with was raised: the worker's traceback, shown as
    the cause of the exception raised in the caller (as :mod:`concurrent.futures` does)."""

    def __str__(self) -> str:
        return f"\n{self.args[0]}" if self.args else ""


class WorkerProcess:
    """``python -m module`` on a pair of pipes (see the module docstring)."""

    def __init__(self, module: str, *, pass_fds: tuple[int, ...] = ()) -> None:
        """``pass_fds``: descriptors the worker inherits under the same numbers (shared
        memory, where a copy through the pipe would cost too much)."""
        path = os.pathsep.join(p for p in (_PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=os.environ | {"PYTHONPATH": path},
            pass_fds=pass_fds,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, value: Any) -> None:
        """Raises OSError when the worker is gone."""
        assert self.process.stdin is not None
        send(self.process.stdin, value)

    def receive(self) -> Any:
        """The worker's next reply; EOFError when it exited without one."""
        assert self.process.stdout is not None
        return receive(self.process.stdout)

    def call(self, request: Any) -> Any:
        """The result of a :func:`serve_calls` worker's function for ``request``, or the
        exception it raised (its cause: the worker's :class:`RemoteTraceback`).
        :class:`WorkerLostError` when the worker is gone or its answer cannot be read."""
        stdin = self.process.stdin
        if stdin is None or stdin.closed or self.process.poll() is not None:
            raise WorkerLostError(f"worker process {self.pid} ({self.exit_status()}) is gone")
        try:
            self.send(request)
        except OSError as error:
            raise self._lost() from error
        try:
            status, outcome = self.receive()
        except Exception as error:  # the pipe ended, or the answer does not unpickle here
            raise self._lost() from error
        if status == "error":
            failure, where = outcome
            raise failure from RemoteTraceback(where)
        return outcome

    def _lost(self) -> WorkerLostError:
        return WorkerLostError(f"worker process {self.pid} ({self.exit_status()}) did not answer")

    def exit_status(self) -> str:
        """How the worker ended (waiting up to 10 s for it), in words."""
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def stop(self, *, kill: bool = False, timeout: float = 60) -> int:
        """Close the pipes (the worker exits after its current request) or, with ``kill``, kill
        it now; wait for it either way (killed past ``timeout``). Its exit status."""
        if kill:
            self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead worker: unsent bytes are dropped
                    stream.close()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        except KeyboardInterrupt:  # a second interrupt while waiting: no worker is left behind
            self.process.kill()
            self.process.wait()
            raise

    def interrupt(self) -> None:
        """SIGINT to the worker (as Ctrl-C in a terminal sends it to the whole group)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)


class SharedBuffer:
    """Memory shared with a worker (a Linux ``memfd``, passed with ``pass_fds``), for requests
    whose bulk would cost too much through the pipe: every 64 kB through a pipe is a wake-up
    of the other side, and on a busy machine each waits for a core. The sender copies the
    chunks in once (:meth:`pack`) and sends only their places; the worker reads them with
    :class:`SharedReader`. One request at a time: the sender packs the next only after the
    worker answered the last."""

    def __init__(self, name: str) -> None:
        self.fd = os.memfd_create(name)
        self.size = _MIN_SHARED
        os.ftruncate(self.fd, self.size)
        self._map = mmap.mmap(self.fd, self.size)

    @staticmethod
    def available() -> bool:
        return hasattr(os, "memfd_create")

    def pack(self, chunks: Sequence[bytes | None]) -> SharedRequest:
        """The chunks copied in; the request that names them."""
        needed = sum(len(chunk) for chunk in chunks if chunk is not None)
        if needed > self.size:
            self.size = max(needed, 2 * self.size)
            os.ftruncate(self.fd, self.size)
            self._map.close()
            self._map = mmap.mmap(self.fd, self.size)
        bounds: Bounds = []
        at = 0
        for chunk in chunks:
            if chunk is None:
                bounds.append(None)
                continue
            end = at + len(chunk)
            self._map[at:end] = chunk
            bounds.append((at, end))
            at = end
        return self.fd, self.size, bounds

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)


class SharedReader:
    """The worker's view of a :class:`SharedBuffer` (remapped when the sender grew it)."""

    def __init__(self) -> None:
        self._map: mmap.mmap | None = None

    def read(self, request: SharedRequest) -> list[bytes | None]:
        fd, size, bounds = request
        if self._map is None or len(self._map) != size:
            if self._map is not None:
                self._map.close()
            self._map = mmap.mmap(fd, size)
        view = self._map
        return [None if b is None else view[b[0] : b[1]] for b in bounds]


def serve_requests(answer: Callable[[Any], Any]) -> None:
    """The worker's loop: each request from stdin through ``answer``, its reply to the original
    stdout, until the parent closes the pipe. Whatever a library prints goes to stderr, not into
    the reply pipe. A worker whose parent dies ends at once, even inside a long request (no
    orphan goes on holding what its parent's rerun needs, such as a silver checkpoint)."""
    _exit_with_parent()
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    while True:
        try:
            request = receive(requests)
        except EOFError:
            return
        send(replies, answer(request))


def serve_calls(call: Callable[[Any], Any]) -> None:
    """A worker's loop (:func:`serve_requests`) answering each request with ``call``'s result
    or the exception it raised (see :meth:`WorkerProcess.call`); then the process ends without
    interpreter teardown, which native thread pools (Arrow's, delta-rs') may abort (130 after
    an interrupt, 1 after another failure, which the parent sees as the worker lost)."""
    code = 1
    try:
        serve_requests(answer_with(call))
        code = 0
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _exit_with_parent() -> None:
    """A daemon thread that ends this process once its parent is gone (re-parented)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="rwa-parent-watch", daemon=True).start()


def answer_with(call: Callable[[Any], Any]) -> Callable[[Any], tuple[str, Any]]:
    """``call`` made to answer ``("ok", result)`` or ``("error", (exception, traceback))``."""

    def answer(request: Any) -> tuple[str, Any]:
        try:
            result = call(request)
            pickle.dumps(result)  # an answer that cannot travel is this request's error
        except Exception as error:
            return ("error", (picklable(error), traceback.format_exc()))
        return ("ok", result)

    return answer


def picklable(error: Exception) -> Exception:
    """``error``, or a RuntimeError with its text where it would not survive the pipe."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
