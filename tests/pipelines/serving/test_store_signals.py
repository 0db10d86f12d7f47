"""The ``signals`` table on both serving stores: real backtests' readings load, upsert
idempotently, read back newest-per-signal with their JSON inputs, and unknown assets or broken
numbers are refused."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines.contracts.served import SIGNALS
from pipelines.core.errors import DataContractError
from pipelines.reference import load_assets
from pipelines.serving.store import ServingStore
from tests.fixtures.signals import LAST_DAY, signal_table


def test_signals_load_and_read_back_newest_per_asset_and_signal(store: ServingStore) -> None:
    store.upsert_assets(load_assets())
    older = signal_table(["btc", "eth"], LAST_DAY - dt.timedelta(days=1))
    newer = signal_table(["btc"])
    assert store.upsert_signals(older) == 6
    assert store.upsert_signals(newer) == 3
    assert store.upsert_signals(newer) == 3  # idempotent
    assert store.table_counts()["signals"] == 9

    newest = store.newest_rows(SIGNALS)
    assert newest.schema == SIGNALS.schema
    rows = {(r["asset_id"], r["signal"]): r for r in newest.to_pylist()}
    assert sorted(rows) == [
        (a, s) for a in ("btc", "eth") for s in ("forecast", "risk", "sentiment")
    ]
    assert rows["btc", "risk"]["as_of"] == LAST_DAY
    assert rows["eth", "risk"]["as_of"] == LAST_DAY - dt.timedelta(days=1)
    assert rows["btc", "risk"]["generated_at"] == dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    sentiment = rows["btc", "sentiment"]
    assert sentiment["direction"] == 1 and sentiment["strength"] == pytest.approx(0.5)
    assert json.loads(sentiment["inputs"]) == {"date": "2026-06-30", "sentiment_score": 0.5}
    assert rows["btc", "forecast"]["hit_rate"] is None  # the naive forecast never trades
    assert rows["btc", "forecast"]["hold_hit_rate"] > 0


def test_unknown_assets_and_broken_rows_are_refused(store: ServingStore) -> None:
    store.upsert_assets(load_assets())
    with pytest.raises(DataContractError, match="nope"):
        store.upsert_signals(signal_table(["nope"]))
    rows = signal_table(["btc"])
    sharpe = rows.schema.get_field_index("sharpe")
    broken = rows.set_column(sharpe, "sharpe", pa.array([float("nan")] * 3))
    with pytest.raises(DataContractError, match="sharpe"):
        store.upsert_signals(broken)
    strength = rows.schema.get_field_index("strength")
    too_strong = rows.set_column(strength, "strength", pc.add(rows["strength"], 2.0))
    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        store.upsert_signals(too_strong)
    assert store.table_counts()["signals"] == 0
