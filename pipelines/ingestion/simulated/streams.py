"""Named random streams: every random number the simulator draws comes from one of these.

Each stream is its own generator keyed by a SHA-256 of ``(seed, owner, stream name)``, so adding
or removing an asset changes no other asset's numbers, and the same seed gives the same numbers
in every process (unlike ``hash``). See docs/simulator.md, "Determinism".
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_int(*parts: object) -> int:
    """A 128-bit integer from the parts' text: stable across processes (unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:16], "big")


def keyed_rng(*parts: object) -> np.random.Generator:
    """A generator seeded by :func:`stable_int` of ``parts``."""
    return np.random.default_rng(stable_int(*parts))


class Streams:
    """Named random streams of one owner (an asset, a macro series); each is independent of the
    others and of other owners'.

    Take one array per stream: a second draw from the same generator would start where the first
    ended, so its values would shift whenever the span's length changes.
    """

    def __init__(self, seed: int, owner: str) -> None:
        self._seed, self._owner = seed, owner

    def __call__(self, name: str) -> np.random.Generator:
        return keyed_rng(self._seed, self._owner, name)
