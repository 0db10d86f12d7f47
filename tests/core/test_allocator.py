"""glibc's malloc is told to give freed memory back (pipelines/core/allocator.py), except
where the environment tunes it itself."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from pipelines.core.allocator import GLIBC_MALLOC, configure_glibc

ON_GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")


@pytest.mark.skipif(not ON_GLIBC, reason="glibc only")
def test_every_setting_is_made_where_the_environment_sets_none() -> None:
    assert configure_glibc({}) == {name: value for name, (_, _, value) in GLIBC_MALLOC.items()}


@pytest.mark.skipif(not ON_GLIBC, reason="glibc only")
def test_a_setting_of_the_environment_wins() -> None:
    env = {"MALLOC_ARENA_MAX": "8", "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=65536"}

    assert set(configure_glibc(env)) == {"MALLOC_MMAP_THRESHOLD_"}


@pytest.mark.skipif(ON_GLIBC, reason="off glibc only")
def test_nothing_is_made_off_glibc() -> None:
    assert configure_glibc({}) == {}


#: In a fresh interpreter: whether a 1 MB block is served by mmap after a 4 MB one was freed
#: (which raises glibc's default threshold to 4 MB), once ``pipelines`` is imported or not.
PROBE = """
import ctypes, os, sys
if sys.argv[1] == "import":
    import pipelines
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
fields = [(n, ctypes.c_size_t) for n in names.split()]
Info = type("Info", (ctypes.Structure,), {"_fields_": fields})
libc.mallinfo2.restype = Info
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before, os.environ.get("MIMALLOC_PURGE_DELAY"))
"""


@pytest.mark.skipif(not ON_GLIBC, reason="glibc only")
@pytest.mark.parametrize(("mode", "want"), [("import", "1 0"), ("bare", "0 None")])
def test_importing_the_package_configures_the_allocators(mode: str, want: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MIMALLOC_"))}
    env.pop("GLIBC_TUNABLES", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == want.split()
