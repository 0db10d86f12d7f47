"""``rwa signals`` / ``rwa backtest`` on a small lake (delta-rs, no Spark): every asset with
enough daily bars gets its three readings in ``gold/signals``, dated by its last bar, the same
figures ``rwa backtest`` reports; too short a history is skipped with why; a rerun of the
same day replaces its rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

from pipelines import steps
from pipelines.contracts.served import SIGNALS_SCHEMA
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from tests.fixtures.lake import MakeSettings

DAYS = 5


def daily_bars(asset_id: str, n: int, last: dt.date, seed: int) -> pa.Table:
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.02, n)))
    dates = [last - dt.timedelta(days=n - 1 - i) for i in range(n)]
    return pa.table({"asset_id": [asset_id] * n, "date": dates, "close": closes})


def test_signals_of_every_asset_with_enough_bars_land_in_gold(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    paths = LakePaths(settings.lake)
    last = dt.date(2026, 6, 30)
    bars = pa.concat_tables(
        [
            daily_bars("btc", 45, last, 1),
            daily_bars("eth", 45, last, 2),
            daily_bars("usdc", 20, last, 3),
        ]
    )
    write_deltalake(paths.gold("ohlcv_1d"), bars)
    mood = pa.table({"asset_id": ["btc"], "date": [last], "sentiment_score": [-0.7]})
    write_deltalake(paths.gold("sentiment_daily"), mood)
    lakehouse = Lakehouse.from_settings(settings)
    # the forecasts' registered order, as `rwa forecast` leaves it: one fit a day, no selection
    for asset_id in ("btc", "eth"):
        registry = steps.model_registry(lakehouse)
        registry.save(f"arima-{asset_id}", {"model.txt": b"-"}, params={"order": [0, 1, 0]})

    report = steps.run_signals(lakehouse, DAYS)
    assert [b.asset_id for b in report.backtests] == ["btc", "eth"]
    assert report.skipped == {"usdc": f"20 daily bars, need {DAYS + 30}"}
    assert report.rows_written == 6
    table = lakehouse.delta.to_arrow(paths.gold(steps.SIGNALS_TABLE))
    assert table.schema.equals(SIGNALS_SCHEMA)
    rows = {(r["asset_id"], r["signal"]): r for r in table.to_pylist()}
    assert rows["btc", "sentiment"]["direction"] == -1
    assert {r["as_of"] for r in rows.values()} == {last}
    assert {r["window_start"] for r in rows.values()} == {last - dt.timedelta(days=DAYS - 1)}

    printed = steps.run_backtest(lakehouse, DAYS, ["btc"])[0]
    assert rows["btc", "forecast"]["sharpe"] == printed.forecast.sharpe
    assert rows["btc", "risk"]["total_return"] == printed.risk.total_return
    steps.run_signals(lakehouse, DAYS)  # the same day again: replaced, not added
    assert lakehouse.delta.count_rows(paths.gold(steps.SIGNALS_TABLE)) == 6
