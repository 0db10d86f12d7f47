"""Lineage of the daily gold measures: a feature (``gold/features_daily``) and an on-chain
metric (``gold/onchain_daily``).

A feature is computed from the asset's daily bars up to its day (returns from the previous
close, 7- and 30-day windows) and, for ``zero_volume_share``, the day's intraday silver bars:
its answer names the gold feature row and traces the day's 1d bar in full (``inputs``); the
earlier bars of a window are traced the same way, one question per bar.

An on-chain metric is, per asset-day, the value of the most recently fetched source that
reported it (:mod:`pipelines.gold.onchain`): the silver records of that day that carry the
metric are listed winner first. The derived measures read every record of the day; the
premium to NAV also the day's close (``inputs``).
"""

from __future__ import annotations

import datetime as dt

from pipelines.contracts.measures import DERIVED_ONCHAIN_METRICS
from pipelines.contracts.served import FEATURES, ONCHAIN
from pipelines.lineage.answer import Lineage, LineageQuery, Row
from pipelines.lineage.bars import daily_close
from pipelines.lineage.layers import Layers, is_, on_day

DERIVED_ONCHAIN = DERIVED_ONCHAIN_METRICS


def _midnight(ts: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(ts.astimezone(dt.UTC).date(), dt.time(), dt.UTC)


def _daily(layers: Layers, query: LineageQuery, served: str, gold: str) -> Lineage:
    """The served row and gold row of a daily table at the day of ``query.ts``."""
    day = _midnight(query.ts)
    table = FEATURES if served == FEATURES.name else ONCHAIN
    answer = Lineage(LineageQuery(query.asset_id, day, query.measure, query.resolution))
    rows = layers.store.series(
        table, {"asset_id": query.asset_id}, day, day + dt.timedelta(microseconds=1)
    )
    answer.served_table = served
    answer.served = layers.served(rows)
    answer.value = None if answer.served is None else answer.served.get(query.measure)
    answer.gold_table = f"gold/{gold}"
    found = layers.rows("gold", gold, is_("asset_id", query.asset_id) & on_day("date", day.date()))
    answer.gold = found[0] if found else None
    answer.run = layers.job_run(gold, day.date()) if answer.gold is not None else None
    return answer


def trace_feature(layers: Layers, query: LineageQuery) -> Lineage:
    answer = _daily(layers, query, FEATURES.name, "features_daily")
    answer.inputs.append(daily_close(layers, query.asset_id, answer.query.ts.date()))
    answer.notes.append(
        "computed from the asset's gold/ohlcv_1d bars up to this day (the day's bar is traced "
        "in inputs; a window's earlier bars are traced one by one) and, for zero_volume_share, "
        "the day's intraday silver bars"
    )
    return answer


def trace_onchain(layers: Layers, query: LineageQuery) -> Lineage:
    answer = _daily(layers, query, ONCHAIN.name, "onchain_daily")
    day = answer.query.ts.date()
    records = layers.rows(
        "silver", "onchain", is_("asset_id", query.asset_id) & on_day("date", day)
    )
    if query.measure not in DERIVED_ONCHAIN:
        records = [row for row in records if row.get(query.measure) is not None]
    records.sort(key=_freshness, reverse=True)
    answer.silver = layers.silver_records("onchain", records, "ts")
    answer.envelopes = layers.bronze.envelopes([record.bronze for record in answer.silver])
    if query.measure == "premium_to_nav":
        answer.inputs.append(daily_close(layers, query.asset_id, answer.query.ts.date()))
    return answer


def _freshness(row: Row) -> tuple[dt.datetime, str]:
    """Gold's order of preference: the latest fetch, ties to the larger source name."""
    return row["fetched_at"], str(row["source"])
