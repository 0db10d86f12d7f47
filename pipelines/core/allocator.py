"""glibc's ``malloc`` told to give the memory it frees back to the system.

A pipeline process works step after step (bronze, silver, gold, the models, the serving load),
each allocating and freeing tens of MB; an allocator that keeps what was freed for later lets
the process's memory grow with the largest step's input and stay there for every later step.
glibc's ``malloc`` (Python's large objects, NumPy, delta-rs, DuckDB's Python bridge) does, by
default: its threshold for serving a block by ``mmap`` rises to the size of the largest block
freed (up to 32 MB), so a large step's buffers come from the heap afterwards, and freed heap is
returned only from its top; and every thread may get an arena of its own (8 per core), each
keeping its free memory. At 16x the demo's input the driver kept 74-100 MB of free heap after
the simulation (12-20 MB at 1x). Fixed thresholds of 128 KiB (glibc's initial ones) for
``mmap`` and for trimming, and two arenas, give most of it back (``bench/scale.py``,
docs/benchmarks.md session 19); what a step leaves free amid the heap, under blocks still in
use, only ``malloc_trim`` returns, which the pipeline's steps call when they end
(:func:`trimmed_after`). Arrow's allocator is configured beside this, in :mod:`pipelines`.

:func:`configure_glibc` runs once, when :mod:`pipelines` is first imported: before the threads
that would make arenas of their own start. A value the environment sets wins (glibc reads its
variables, or ``GLIBC_TUNABLES``, when the process starts), so an operator can still tune it.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable, Mapping
from typing import Final, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: ``mallopt`` parameters of glibc's ``malloc.h``.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_M_ARENA_MAX: Final = -8

#: The glibc settings made, by the environment variable that would set each instead (glibc
#: reads it when the process starts), with the ``GLIBC_TUNABLES`` name and the
#: ``mallopt`` parameter and value.
GLIBC_MALLOC: Final[dict[str, tuple[str, int, int]]] = {
    "MALLOC_MMAP_THRESHOLD_": ("glibc.malloc.mmap_threshold", _M_MMAP_THRESHOLD, 128 * 1024),
    "MALLOC_TRIM_THRESHOLD_": ("glibc.malloc.trim_threshold", _M_TRIM_THRESHOLD, 128 * 1024),
    "MALLOC_ARENA_MAX": ("glibc.malloc.arena_max", _M_ARENA_MAX, 2),
}


def configure_glibc(env: Mapping[str, str]) -> dict[str, int]:
    """Make the settings of :data:`GLIBC_MALLOC` that ``env`` (the process's environment)
    does not set; returns those made, by variable (none off glibc)."""
    libc = _glibc()
    if libc is None:
        return {}
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    tunables = env.get("GLIBC_TUNABLES", "")
    made: dict[str, int] = {}
    for variable, (tunable, parameter, value) in GLIBC_MALLOC.items():
        if variable in env or tunable in tunables:
            continue
        if mallopt(parameter, value) == 1:  # 1 on success
            made[variable] = value
    return made


def trim() -> bool:
    """Give the free memory of glibc's heaps back to the system now, wherever it lies in them
    (``malloc_trim``: a walk over the free blocks, about a millisecond for a pipeline's heap);
    whether some was given back (False off glibc)."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
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
    """The C library where it is glibc, or None (macOS, musl: musl has a ``mallopt`` that does
    nothing and no ``malloc_trim``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
    except (OSError, AttributeError):
        return None
    return libc
