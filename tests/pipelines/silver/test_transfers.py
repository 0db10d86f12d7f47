"""``silver/transfers`` from Transfer-log pages, through the real silver job (Spark, Delta, the
quality gate): the simulated source's pages, and hostile logs refused with their reason."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines import steps
from pipelines.ingestion.base import FetchWindow
from pipelines.ingestion.evm.logs import LOGS_ENDPOINT, ZERO_ADDRESS, word
from pipelines.ingestion.simulated import SimulatedSource
from pipelines.lakehouse import Lakehouse
from pipelines.reference import load_assets
from pipelines.silver.reconciliation import reconcile
from tests.fixtures.lake import MakeSettings, lake_of
from tests.pipelines.silver.bronze_factory import land, wrap
from tests.pipelines.silver.test_sources import quarantined, silver_rows

pytestmark = pytest.mark.usefixtures("spark")

END = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)


def _simulated_pages() -> list[Any]:
    assets = [a for a in load_assets() if a.asset_id in {"usdc", "ousg"}]
    source = SimulatedSource(
        assets, seed=3, start=END - dt.timedelta(days=2), end=END, datasets=["transfers"]
    )
    return list(source.collect(FetchWindow(source.window.start, source.window.end)))


def _hostile(page: dict[str, Any]) -> dict[str, Any]:
    """A copy of a page whose logs are each broken in one way."""
    broken = copy.deepcopy(page)
    good = broken["logs"][1]
    variants: list[dict[str, Any]] = [
        {**good, "topics": [*good["topics"], word(1)]},  # ERC-721: 4 topics
        {**good, "topics": ["0x" + "ab" * 32, *good["topics"][1:]]},  # another event
        {**good, "topics": [good["topics"][0], "0x" + "f" * 64, good["topics"][2]]},
        {**good, "data": "0x1234"},
        {**good, "data": word(2**130)},
        {**good, "blockNumber": "12"},
        {**good, "address": "0x" + "9" * 40},
        {**good, "blockNumber": "0x1", "logIndex": "0x7"},  # no header for block 1
    ]
    broken["logs"] = [good, *variants]
    # The good log's header again with another time (the page's first answer counts), and a
    # header without a number (left out, not a failed batch).
    header = next(b for b in broken["blocks"] if b["number"] == good["blockNumber"])
    broken["blocks"] += [{**header, "timestamp": "0x1"}, {**header, "number": None}]
    return broken


def test_simulated_pages_and_hostile_logs(make_settings: MakeSettings) -> None:
    settings = make_settings(quality_max_failure_share=1.0)
    envelopes = _simulated_pages()
    usdc_day = next(
        e for e in envelopes if e.payload["logs"] and e.params["address"][0].startswith("0xa0b8")
    )
    hostile = wrap(
        "simulated",
        "transfers",
        LOGS_ENDPOINT,
        _hostile(usdc_day.payload),
        usdc_day.fetched_at + dt.timedelta(hours=1),
        usdc_day.params,
    )
    land(Path(settings.lake.root), [*envelopes, hostile])

    report = steps.run_silver(Lakehouse.from_settings(settings), "transfers")

    rows = silver_rows(settings, "transfers", "asset_id", "block_number", "log_index")
    logs = [r for r in rows if r["log_index"] >= 0]
    ranges = [r for r in rows if r["log_index"] < 0]
    # One range row per page (2 days, 2 tokens), one row per log, amounts exact.
    assert len(ranges) == 4
    assert len(logs) == sum(len(e.payload["logs"]) for e in envelopes)
    sent = {
        (int(log["blockNumber"], 16), int(log["logIndex"], 16), log["address"]): log
        for e in envelopes
        for log in e.payload["logs"]
    }
    for row in logs:
        log = sent[(row["block_number"], row["log_index"], row["contract_address"])]
        assert row["amount_raw"] == Decimal(int(log["data"], 16))
        assert row["to_address"] == "0x" + log["topics"][2][-40:]
    assert any(r["from_address"] == ZERO_ADDRESS for r in logs)  # mints
    assert {r["decimals"] for r in logs if r["asset_id"] == "usdc"} == {6}
    assert all(r["date"] == r["block_ts"].date() for r in rows)
    refetched = hostile.payload["logs"][0]
    header = next(b for b in hostile.payload["blocks"] if b["number"] == refetched["blockNumber"])
    row = next(
        r
        for r in logs
        if (r["block_number"], r["log_index"])
        == (int(refetched["blockNumber"], 16), int(refetched["logIndex"], 16))
        and r["contract_address"] == refetched["address"]
    )
    assert row["fetched_at"] == hostile.fetched_at
    assert row["block_ts"] == dt.datetime.fromtimestamp(int(header["timestamp"], 16), dt.UTC)
    assert quarantined(settings, "transfers") == sorted(
        [
            "log is not an ERC-20 Transfer (topic0 Transfer(address,address,uint256), 3 topics)",
            "log is not an ERC-20 Transfer (topic0 Transfer(address,address,uint256), 3 topics)",
            "field 'topics[1]' is not an address word",
            "field 'data' is not a 32-byte word",
            "field 'data' is out of range (beyond ±2.12676e+37)",
            "field 'blockNumber' is not a hex quantity",
            "contract address is no reference asset on params.chain",
            "no timestamp for the log's block in the page",
        ]
    )
    assert report.bronze_lines == len(envelopes) + 1
    assert reconcile(*lake_of(settings), "transfers").ok
