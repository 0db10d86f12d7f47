"""What alert evaluation reads of the served data, on both serving stores (the ``store``
fixture): one frame per kind, the same values and instants whichever store serves them."""

from __future__ import annotations

import datetime as dt

import pytest

from api.alerts.observations import EXTRAS, Needs, observe
from api.alerts.rules import ConditionKind as Kind
from pipelines.serving.store import ServingStore
from tests.api.alerts.served_alerts import DATA_TS, START, load_alert_data

DAY = dt.timedelta(days=1)
NEEDS = Needs(
    frozenset(Kind),
    move_windows=frozenset({60, 180}),
    onchain_windows={Kind.SUPPLY_CHANGE: frozenset({1}), Kind.HOLDERS_CHANGE: frozenset({1, 7})},
)


def _values(store: ServingStore) -> dict[tuple[str, str, int], tuple[float, dt.datetime]]:
    frames = observe(store, NEEDS).frames
    assert set(frames) == set(Kind)
    for kind, frame in frames.items():
        assert list(frame.columns) == ["asset_id", "window", "value", "data_ts", *EXTRAS[kind]]
    return {
        (kind.value, row.asset_id, int(row.window)): (round(float(row.value), 4), row.data_ts)
        for kind, frame in frames.items()
        for row in frame.itertuples()
    }


def test_every_kind_is_read_in_one_frame_per_kind(store: ServingStore) -> None:
    load_alert_data(store)
    values = _values(store)
    day = START + DAY
    assert values[("price", "usdc", 0)] == (0.99, DATA_TS)
    assert values[("peg_deviation", "usdc", 0)] == (-100.0, DATA_TS)
    assert values[("pct_move", "btc", 60)] == (6.0, DATA_TS)
    # Three hours back, no hourly bar had closed yet: the daily bar closing then (106) stands.
    assert values[("pct_move", "btc", 180)] == (0.0, DATA_TS)
    assert values[("nav_premium", "buidl", 0)] == (200.0, DATA_TS)
    assert values[("risk_score", "btc", 0)] == (70.0, day)
    assert values[("sentiment_below", "btc", 0)] == (-0.6, day)
    assert values[("forecast_return_7d", "btc", 0)] == (round((112.1 / 106 - 1) * 100, 4), day)
    assert values[("supply_change", "buidl", 1)] == (20.0, day)
    assert values[("holders_change", "buidl", 1)] == (20.0, day)
    # Seven days back is before the first served day: no change to report.
    assert ("holders_change", "buidl", 7) not in values
    assert ("nav_premium", "usdc", 0) not in values  # no NAV: nothing to compare with


def test_an_empty_store_gives_empty_frames(store: ServingStore) -> None:
    frames = observe(store, NEEDS).frames
    assert all(frame.empty for frame in frames.values())
    assert pytest.approx(0) == sum(len(frame) for frame in frames.values())
