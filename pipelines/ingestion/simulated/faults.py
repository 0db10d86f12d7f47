"""Injected faults: real APIs send junk, so the simulated one does too (docs/simulator.md).

Each bar is defective with probability ``fault_rate``; the defect is one of :data:`FAULT_KINDS`,
chosen uniformly. Fault positions come from a stream of their own, so faulty data differs from
clean data only in the faulty bars, and a higher rate faults a superset of the bars a lower
rate does.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from pipelines.ingestion.simulated.streams import Streams

FaultKind = Literal["numeric_string", "null_time", "non_positive_price", "high_below_low"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
#: Defects silver must send to quarantine.
QUARANTINE_FAULTS: frozenset[FaultKind] = frozenset(
    {"null_time", "non_positive_price", "high_below_low"}
)
#: Defects silver must repair and accept.
ACCEPTED_FAULTS: frozenset[FaultKind] = frozenset({"numeric_string"})

#: Per bar: 0 = clean, k = ``FAULT_KINDS[k - 1]``.
FaultCodes = npt.NDArray[np.int8]


def draw_faults(streams: Streams, bars: int, fault_rate: float) -> FaultCodes:
    """Which of ``bars`` bars carry which fault."""
    hit = streams("faults").random(bars) < fault_rate
    kinds = streams("fault_kind").integers(1, len(FAULT_KINDS) + 1, bars)
    return np.where(hit, kinds, 0).astype(np.int8)


def fault_kind(code: int) -> FaultKind:
    """The fault a non-zero code of :func:`draw_faults` stands for."""
    return FAULT_KINDS[code - 1]


def inject_fault(record: dict[str, Any], kind: FaultKind, index: int, decimals: int) -> None:
    """Spoil one CoinAPI bar record in place, the way ``kind`` describes."""
    if kind == "numeric_string":
        for key in ("price_open", "price_high", "price_low", "price_close"):
            record[key] = repr(record[key])
    elif kind == "null_time":
        record["time_period_start"] = None
    elif kind == "non_positive_price":
        record["price_close"] = 0.0 if index % 2 == 0 else -record["price_close"]
    else:  # high_below_low: the feed swapped (and slightly widened) the two
        high, low = record["price_high"], record["price_low"]
        record["price_high"] = round(low * 0.999, decimals)
        record["price_low"] = round(high * 1.001, decimals)
