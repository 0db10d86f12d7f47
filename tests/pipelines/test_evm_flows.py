"""From the chain to gold: the EVM source reads a local node (recorded log shapes), the pages
land in bronze, silver parses them (a malformed log to quarantine), gold computes the daily
flows and holders; then the node reorgs, the source rewinds and re-reads, and gold equals an
independent computation over the canonical chain: the orphaned logs' effect is undone."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines import steps
from pipelines.contracts.silver import PRICES
from pipelines.ingestion.evm.logs import ZERO_ADDRESS, address_topic, word
from pipelines.lake.delta import DeltaLake
from pipelines.lakehouse import Lakehouse
from tests.fixtures.evm_node import EvmNode, serve
from tests.fixtures.lake import MakeSettings
from tests.pipelines.gold.silver_sets import write_silver
from tests.pipelines.ingestion.evm.test_connector import (
    USDC,
    USDC_LOGS,
    everything,
    evm_source,
)
from tests.pipelines.silver.bronze_factory import land

pytestmark = pytest.mark.usefixtures("spark")

DAY1 = dt.date(2026, 1, 1)
A, B, C, D, E = (f"0x{n:040x}" for n in range(0xA1, 0xA6))


def transfer(sender: str, receiver: str, usdc: int) -> dict[str, Any]:
    """A recorded USDC Transfer log with other parties and amount (6 decimals)."""
    log = copy.deepcopy(USDC_LOGS[0])
    log["topics"] = [log["topics"][0], address_topic(sender), address_topic(receiver)]
    log["data"] = word(usdc * 10**6)
    return log


def day_of(node: EvmNode, number: int) -> dt.date:
    return dt.datetime.fromtimestamp(node.block_time(number), dt.UTC).date()


def expected_flows(node: EvmNode, last_block: int) -> dict[dt.date, dict[str, float]]:
    """Per day: count, minted, burned and holders, replayed over the node's canonical logs."""
    balances: dict[str, int] = defaultdict(int)
    days: dict[dt.date, dict[str, float]] = {}
    for number in sorted(n for n in node.logs if n <= last_block):
        for log in node.logs[number]:
            if len(log["data"]) != 66:
                continue  # the malformed log: quarantined, never counted
            sender, receiver = ("0x" + t[-40:] for t in log["topics"][1:3])
            amount = int(log["data"], 16)
            day = days.setdefault(
                day_of(node, number), {"transfer_count": 0, "minted": 0.0, "burned": 0.0}
            )
            day["transfer_count"] += 1
            day["minted"] += amount / 1e6 if sender == ZERO_ADDRESS else 0.0
            day["burned"] += amount / 1e6 if receiver == ZERO_ADDRESS else 0.0
            balances[sender] -= amount if sender != ZERO_ADDRESS else 0
            balances[receiver] += amount if receiver != ZERO_ADDRESS else 0
            day["holders"] = sum(1 for a, b in balances.items() if b > 0 and a != ZERO_ADDRESS)
    return days


def usdc_bars() -> pd.DataFrame:
    """Hourly USDC bars at 1.0002 for four days: gold's daily close values the flows."""
    ts = pd.date_range(pd.Timestamp(DAY1, tz="UTC"), periods=96, freq="h")
    return pd.DataFrame(
        {
            "date": ts.date,
            "asset_id": "usdc",
            "resolution": "1h",
            "ts": ts,
            **{column: 1.0002 for column in ("open", "high", "low", "close")},
            "volume": 1e6,
            "source": "simulated",
            "ingest_id": "bars",
            "fetched_at": ts + pd.Timedelta(minutes=5),
            "bronze_file": "bronze/test.jsonl",
        }
    )


def gold_usdc(lakehouse: Lakehouse) -> dict[dt.date, dict[str, Any]]:
    table = DeltaLake(lakehouse.settings.lake, lakehouse.settings.spark).to_arrow(
        lakehouse.paths.gold("onchain_daily")
    )
    return {r["date"]: r for r in table.to_pylist() if r["asset_id"] == "usdc"}


def assert_gold_equals(lakehouse: Lakehouse, want: dict[dt.date, dict[str, float]]) -> None:
    got = gold_usdc(lakehouse)
    assert sorted(got) == sorted(want)
    for day, values in want.items():
        row = got[day]
        assert row["transfer_count"] == values["transfer_count"], day
        assert row["holders"] == values["holders"], day
        assert row["minted"] == pytest.approx(values["minted"]), day
        assert row["burned"] == pytest.approx(values["burned"]), day
        assert row["net_flow"] == pytest.approx(values["minted"] - values["burned"]), day
        assert row["net_flow_usd"] == pytest.approx(row["net_flow"] * 1.0002), day
        assert row["sources"] == ["evm"]


def test_flows_from_the_chain_and_a_reorg_undone(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    node = EvmNode(head=80, genesis_time=int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()))
    node.block_seconds = 3600  # a block an hour: 24 blocks a day
    malformed = transfer(A, C, 1) | {"data": "0x1234"}
    for number, logs in {
        2: [transfer(ZERO_ADDRESS, A, 1000)],
        5: [transfer(A, B, 300)],
        10: [transfer(A, C, 100), malformed],
        30: [transfer(B, D, 300)],  # B empties its balance
        40: [transfer(C, ZERO_ADDRESS, 50)],
        50: [transfer(ZERO_ADDRESS, E, 500)],
        60: [transfer(D, A, 100)],
    }.items():
        node.place(number, logs)
    server = serve(node)
    next(server)
    settings = make_settings(quality_max_failure_share=1.0)
    catalog = Lakehouse.from_settings(settings).catalog
    usdc_only = catalog.model_copy(update={"assets": [USDC]})
    lakehouse = dataclasses.replace(Lakehouse.from_settings(settings), catalog=usdc_only)
    write_silver(settings, "prices", usdc_bars(), PRICES.schema)
    options = {"confirmations": 5, "max_block_range": 30}
    try:
        first = list(evm_source(node, tmp_path / "state", **options).collect(everything(node)))
        land(Path(settings.lake.root), first)
        steps.run_silver(lakehouse, "transfers")
        steps.run_gold(lakehouse)
        assert_gold_equals(lakehouse, expected_flows(node, 75))

        # Blocks from 55 on are replaced: D -> A (block 60) is orphaned, A burns 200 instead.
        node.reorg(55, {58: [transfer(A, ZERO_ADDRESS, 200)]})
        node.head = 90
        again = list(evm_source(node, tmp_path / "state", **options).collect(everything(node)))
        assert again[0].params["fromBlock"] == hex(30)  # rewound to the last unchanged range
        land(Path(settings.lake.root), again)
        steps.run_silver(lakehouse, "transfers")
        steps.run_gold(lakehouse)
    finally:
        server.close()
    assert_gold_equals(lakehouse, expected_flows(node, 85))
    table = DeltaLake(settings.lake, settings.spark).to_arrow(lakehouse.paths.quarantine)
    reasons = [r["reason"] for r in table.to_pylist() if r["dataset"] == "transfers"]
    assert reasons == ["field 'data' is not a 32-byte word"]  # block 10, read once
