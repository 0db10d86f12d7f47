"""A trimmed step gives what it freed back to the system, however it ends
(pipelines/core/allocator.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.core.allocator import _glibc, trimmed_after

#: In a fresh interpreter: a step frees some 200 MB of glibc heap under a block it keeps (so
#: ``free`` cannot give it back from the heap's top); prints the MB given back once it ended.
PROBE = """
import sys
import psutil
from pipelines.core.allocator import trimmed_after

kept = []
held = 0

def step(fail):
    global held
    blocks = [bytes(2000) + bytes([i % 256]) for i in range(100_000)]
    kept.append(bytes(2000) + b"x")  # above the blocks: the heap's top stays in use
    del blocks
    held = psutil.Process().memory_info().rss
    if fail:
        raise RuntimeError("the step failed")

mode = sys.argv[1]
run = trimmed_after(step) if mode.startswith("trimmed") else step
try:
    run(mode.endswith("failing"))
except RuntimeError:
    pass
print((held - psutil.Process().memory_info().rss) >> 20)
"""


def given_back_mb(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(_glibc() is None, reason="glibc only")
@pytest.mark.parametrize("mode", ["trimmed", "trimmed-failing"])
def test_a_trimmed_step_gives_its_freed_memory_back_however_it_ends(mode: str) -> None:
    assert given_back_mb("plain") < 50  # without the trim glibc keeps it
    assert given_back_mb(mode) > 150


def test_a_trimmed_step_is_the_step() -> None:
    def step(a: int, *, b: int) -> int:
        """Adds."""
        return a + b

    trimmed = trimmed_after(step)
    assert trimmed(1, b=2) == 3
    assert trimmed.__name__ == "step"
    assert trimmed.__doc__ == "Adds."
