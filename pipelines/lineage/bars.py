"""Lineage of a served OHLCV bar: the gold bar, the run that wrote it, and the silver bars it
was rolled up from, chosen by gold's own rule (:mod:`pipelines.gold.ohlcv`): per asset and UTC
day, the bars of the finest silver resolution that tiles the target, inside the bucket.

The rule is applied here again to what silver holds now, and the answer says whether those bars
rebuild the gold bar (``checks``): same count as ``source_bars``, same open, high, low, close
and volume. A silver day changed since the gold run shows there as a failed check.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pipelines.contracts.gold import resolution_seconds
from pipelines.contracts.served import LOADED_RESOLUTIONS, Resolution
from pipelines.core.errors import DataContractError, NotFoundError
from pipelines.lineage.answer import Lineage, LineageQuery, LineageQueryError, Row
from pipelines.lineage.layers import Layers, at, day_of, is_, on_day


def check_resolution(resolution: str | None) -> Resolution:
    if resolution is None:
        raise LineageQueryError("resolution", "a bar's measure needs a resolution (e.g. 1d)")
    if resolution not in LOADED_RESOLUTIONS:
        raise LineageQueryError(
            "resolution",
            f"resolution {resolution!r} has no lineage: bars are built in gold at "
            f"{', '.join(LOADED_RESOLUTIONS)} (1w bars are the store's sums of 1d bars)",
        )
    return resolution


def daily_close(layers: Layers, asset_id: str, day: dt.date) -> Lineage:
    """The lineage of the asset's 1d close of ``day`` (the input of a daily measure)."""
    midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
    return trace_bar(layers, LineageQuery(asset_id, midnight, "close", "1d"))


def trace_bar(layers: Layers, query: LineageQuery) -> Lineage:
    """The chain behind ``query.measure`` of the served bar at ``query.ts``."""
    resolution = check_resolution(query.resolution)
    ts = query.ts
    if int(ts.timestamp() * 1_000_000) % (resolution_seconds(resolution) * 1_000_000):
        raise NotFoundError(
            f"no {resolution} bar starts at {ts.isoformat()}: {resolution} bars start every "
            f"{resolution} from midnight UTC"
        )
    answer = Lineage(query)
    served = layers.store.ohlcv_table(
        query.asset_id, resolution, ts, ts + dt.timedelta(microseconds=1)
    )
    answer.served_table = "ohlcv"
    answer.served = layers.served(served)
    if answer.served is not None:
        answer.served = {"asset_id": query.asset_id, "resolution": resolution, **answer.served}
        answer.value = answer.served.get(query.measure)
    table = f"ohlcv_{resolution}"
    answer.gold_table = f"gold/{table}"
    day = day_of(ts)
    where = is_("asset_id", query.asset_id) & at("ts", ts)
    if resolution != "1d":  # intraday tables are partitioned by day: prune to one folder
        where = where & on_day("date", day)
    gold = layers.rows("gold", table, where)
    answer.gold = gold[0] if gold else None
    answer.run = layers.job_run(table, day) if answer.gold is not None else None
    bars = source_bars(layers, query.asset_id, ts, resolution)
    answer.silver = layers.silver_records("prices", bars, "ts")
    answer.envelopes = layers.bronze.envelopes([record.bronze for record in answer.silver])
    if answer.gold is not None:
        answer.checks = rebuilds(answer.gold, bars)
    return answer


def source_bars(layers: Layers, asset_id: str, ts: dt.datetime, resolution: str) -> list[Row]:
    """The silver bars gold's rule picks for the ``resolution`` bucket starting at ``ts``."""
    target = resolution_seconds(resolution)
    day = day_of(ts)
    rows = layers.rows("silver", "prices", is_("asset_id", asset_id) & on_day("date", day))
    tiling = []
    for row in rows:
        try:
            seconds = resolution_seconds(str(row["resolution"]))
        except DataContractError:
            continue
        if seconds <= target and target % seconds == 0:
            tiling.append((seconds, row))
    if not tiling:
        return []
    finest = min(seconds for seconds, _ in tiling)
    end = ts + dt.timedelta(seconds=target)
    picked = [row for seconds, row in tiling if seconds == finest and ts <= row["ts"] < end]
    return sorted(picked, key=lambda row: row["ts"])


def rebuilds(gold: Row, bars: list[Row]) -> dict[str, bool]:
    """Whether ``bars`` roll up to the ``gold`` bar, measure by measure."""
    if not bars:
        return {"source_bars": False}
    volumes = [bar["volume"] for bar in bars]
    rebuilt: dict[str, Any] = {
        "source_bars": len(bars),
        "open": bars[0]["open"],
        "high": max(bar["high"] for bar in bars),
        "low": min(bar["low"] for bar in bars),
        "close": bars[-1]["close"],
        "volume": None if None in volumes else sum(volumes),
    }
    return {name: _same(gold.get(name), value) for name, value in rebuilt.items()}


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return bool(left == right)
