"""Block-range paging of ``eth_getLogs`` that adapts to what a node accepts.

Nodes refuse a range that is too wide or would return too many logs, each in its own words:

* Infura / geth: ``-32005 "query returned more than 10000 results"``, and on some chains
  ``"Query returned more than 10000 results. Try with this block range [0x118dc91, 0x1198cc3]."``;
* Alchemy: ``"Log response size exceeded. You can make eth_getLogs requests with up to a 2K
  block range ... this block range should work: [0x0, 0x2e7ec]"``;
* Infura (live), Tenderly, QuickNode, BSC: ``"range 1000000 exceeds limit of 10000"``,
  ``"range 9009594 is bigger than range limit 2000"``, ``"exceed maximum block range: 5000"``,
  ``"block range is too wide"``, ``"block range is bigger than maxBlockRange"``;
* reth: ``"query exceeds max results 20000, retry with the range 25766988-25775072"``.

:func:`range_refusal` recognises them (None: another error). :class:`Pager` then narrows the
range: to the suggested one when it starts where the refused one did and is narrower, else to
the node's stated block limit when that is narrower, else to half. After a few successes it
grows back towards ``RWA_EVM_MAX_BLOCK_RANGE``. The next range always starts right after the
last one read, so no block is skipped or read twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOO_MUCH = re.compile(
    r"more than \d+ results|response size|max(imum)? results|too many (results|logs)"
    r"|block range|range limit|limit of \d+|exceeds? (the )?max(imum)? (block )?range"
    r"|range \d+ (exceeds|is bigger)|range is too (wide|large|big)",
    re.IGNORECASE,
)
_HEX_RANGE = re.compile(r"\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]", re.IGNORECASE)
_DECIMAL_RANGE = re.compile(r"range (\d+)\s*-\s*(\d+)", re.IGNORECASE)
_BLOCK_LIMIT = re.compile(
    r"(?:limit of|range limit|maximum block range:?|up to an?)\s*(\d[\d,]*)\s*(k)?\b",
    re.IGNORECASE,
)
#: Successful pages in a row after which the range doubles again (up to the maximum).
GROW_AFTER = 2


@dataclass(frozen=True, slots=True)
class RangeRefusal:
    """A node's refusal of a block range: its words, the range it suggested and the widest
    range (in blocks) it said it accepts, when it said so."""

    message: str
    suggested: tuple[int, int] | None = None
    block_limit: int | None = None


def range_refusal(error: Any) -> RangeRefusal | None:
    """The refusal a JSON-RPC ``error`` object is, or None when it is another error."""
    if not isinstance(error, dict):
        return None
    message = str(error.get("message", ""))
    data = error.get("data")
    text = f"{message} {data}" if data is not None else message
    if not _TOO_MUCH.search(text):
        return None
    suggested: tuple[int, int] | None = None
    if found := _HEX_RANGE.search(text):
        suggested = (int(found[1], 16), int(found[2], 16))
    elif found := _DECIMAL_RANGE.search(text):
        suggested = (int(found[1]), int(found[2]))
    limit: int | None = None
    if found := _BLOCK_LIMIT.search(text):
        limit = int(found[1].replace(",", "")) * (1000 if found[2] else 1)
    return RangeRefusal(message, suggested, limit)


class RangeNotNarrowableError(Exception):
    """A node refused even a one-block range: no narrowing can help."""


@dataclass
class Pager:
    """The span (in blocks) of the next ``eth_getLogs`` of one chain."""

    max_span: int
    span: int = 0
    successes: int = 0

    def __post_init__(self) -> None:
        if self.max_span < 1:
            raise ValueError(f"max_span must be >= 1, got {self.max_span}")
        self.span = self.span or self.max_span

    def window(self, first: int, target: int) -> tuple[int, int]:
        """The next range to read: from ``first``, at most ``span`` blocks, not past
        ``target``."""
        return first, min(target, first + self.span - 1)

    def refused(self, refusal: RangeRefusal, first: int, last: int) -> None:
        """Narrow the span after ``[first, last]`` was refused."""
        width = last - first + 1
        if width <= 1:
            raise RangeNotNarrowableError(
                f"the node refused even block {first} alone: {refusal.message}"
            )
        narrower = width // 2
        suggested = refusal.suggested
        if suggested and suggested[0] == first and first <= suggested[1] < last:
            narrower = suggested[1] - first + 1
        elif refusal.block_limit and refusal.block_limit < width:
            narrower = refusal.block_limit
        self.span = max(1, narrower)
        self.successes = 0

    def succeeded(self) -> None:
        """Grow the span back after :data:`GROW_AFTER` successes in a row."""
        self.successes += 1
        if self.successes >= GROW_AFTER and self.span < self.max_span:
            self.span = min(self.max_span, self.span * 2)
            self.successes = 0
