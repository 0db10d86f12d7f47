"""Where the EVM source stopped, per chain: the block ranges it read and the hash of each
range's last block, in a JSON file under ``RWA_EVM_STATE_DIR``.

A range is recorded only after its page was handed on (landed or published), so a crash can
re-read a page but never skip one (silver keeps one row per place in the chain). The newest
ranges are kept (:data:`KEPT_RANGES`): enough to find where a reorg forked off. The file also
names the contracts read; reading another set starts afresh.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

#: Ranges remembered per chain: a reorg deeper than these is re-read from the oldest one.
KEPT_RANGES = 64


@dataclass(frozen=True, slots=True)
class ReadRange:
    """Blocks ``first``..``last`` were read; ``last_hash`` was the hash of ``last`` then."""

    first: int
    last: int
    last_hash: str


class CheckpointStore:
    """The checkpoint files of one state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def load(self, chain: str, contracts: Sequence[str]) -> list[ReadRange]:
        """The ranges read for ``contracts`` on ``chain``, oldest first (none: start afresh)."""
        path = self._path(chain)
        if not path.exists():
            return []
        state = json.loads(path.read_text(encoding="utf-8"))
        if sorted(state.get("contracts", [])) != sorted(contracts):
            return []
        return [ReadRange(**item) for item in state.get("ranges", [])]

    def save(self, chain: str, contracts: Sequence[str], ranges: Sequence[ReadRange]) -> None:
        """Replace the chain's checkpoint (atomically: a crash leaves the old one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {
            "chain": chain,
            "contracts": sorted(contracts),
            "ranges": [asdict(r) for r in list(ranges)[-KEPT_RANGES:]],
        }
        path = self._path(chain)
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=1), encoding="utf-8")
        temporary.replace(path)

    def _path(self, chain: str) -> Path:
        safe = "".join(ch for ch in chain if ch.isalnum() or ch in "-_") or "chain"
        return self.folder / f"{safe}.json"
