"""glibc's ``malloc`` made to give back what a pipeline step freed, when the step ends.

A pipeline process works step after step (bronze, silver, gold, the models, the serving load),
each allocating and freeing tens of MB. glibc's ``malloc`` (Python's large objects, NumPy,
delta-rs, DuckDB's Python bridge) keeps what was freed amid its heaps for later, so a process
carried one step's memory into every step after it: at 16x the demo's input the driver kept
74-100 MB of free heap after the simulation (12-20 MB at 1x). :func:`trimmed_after` ends each
step of :mod:`pipelines.steps` that does large work with ``malloc_trim``, which gives the free
pages back wherever they lie (docs/benchmarks.md, "Session 19: the steps give freed memory
back").

Not done: fixing glibc's ``mmap`` and trim thresholds (``mallopt``, or ``MALLOC_*_THRESHOLD_``)
kept less between steps too, but every block above the threshold then costs an ``mmap``, a
``munmap`` and fresh page faults: NumPy and pandas work on arrays of about a MB ran 1.5-2.6x
slower. Arrow's allocator is configured beside this, in :mod:`pipelines`.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def trim() -> bool:
    """Give the free memory of glibc's heaps back to the system now, wherever it lies in them
    (``malloc_trim``: a walk over the free blocks, about a millisecond for a pipeline's heap);
    whether some was given back (False off glibc)."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


def trimmed_after(step: Callable[P, R]) -> Callable[P, R]:
    """``step``, followed, however it ends, by :func:`trim`: what it freed is not kept for the
    steps after it in the same process."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(*args, **kwargs)
        finally:
            trim()

    return run


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library where it is glibc (its ``malloc_trim`` typed), or None (macOS; musl has
    no ``malloc_trim``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    libc.malloc_trim.restype = ctypes.c_int
    return libc
